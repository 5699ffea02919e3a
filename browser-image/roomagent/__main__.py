"""``python -m roomagent`` / ``watchparty-agent``: run one room's agent until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from .agent import Agent, FatalError
from .config import AgentSettings
from .log import setup_logging

log = logging.getLogger("roomagent")


async def _amain(settings: AgentSettings) -> int:
    agent = Agent(settings)
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(agent.run())
    stopping = False

    def on_signal(signame: str) -> None:
        nonlocal stopping
        if stopping:
            return
        log.info("signal received, shutting down", extra={"signal": signame})
        stopping = True
        task.cancel()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig.name)
    try:
        await task
    except asyncio.CancelledError:
        if stopping:
            return 0
        raise
    except FatalError as e:
        log.error("agent stopping: %s", e)
        return 1
    except Exception:
        log.exception("agent failed")
        return 1
    return 1


def main() -> None:
    settings = AgentSettings()
    setup_logging(settings.room_id, settings.log_level)
    sys.exit(asyncio.run(_amain(settings)))


if __name__ == "__main__":
    main()
