"""`python -m tests.support.app_server --port N --agent-port M`: the real app in its own process,
with a runtime that starts nothing and writes each room's agent secret to WP_TEST_RUNTIME_DIR, so
a test can play the agent against any replica."""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import signal
import sys
import uuid
from pathlib import Path

import uvicorn

from controlplane.main import create_app, server_options, serving
from controlplane.observability import configure_logging
from controlplane.settings import Settings
from tests.support.rooms import RecordingRuntime


class FileRecordingRuntime(RecordingRuntime):
    async def start(
        self, *, room_id: uuid.UUID, room_code: str, agent_secret: str, start_url: str | None
    ) -> str:
        ref = await super().start(
            room_id=room_id, room_code=room_code, agent_secret=agent_secret, start_url=start_url
        )
        out = Path(os.environ["WP_TEST_RUNTIME_DIR"]) / f"{room_code}.json"
        out.write_text(json.dumps({"room_id": str(room_id), "secret": agent_secret}))
        return ref


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--agent-port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings(AGENT_PORT=args.agent_port)
    configure_logging(level=settings.LOG_LEVEL, as_json=False)
    app = serving(create_app(settings, runtime=FileRecordingRuntime()))  # as `watchparty serve`
    options = {"host": "127.0.0.1", **server_options(settings)}
    config = uvicorn.Config(app, port=args.port, **options)
    agent = uvicorn.Config(app, port=args.agent_port, **options)
    server = uvicorn.Server(config)
    sockets = [config.bind_socket(), agent.bind_socket()]
    # WP_TEST_PROFILE=<file>: the whole run under cProfile, its stats written there when the
    # server stops (bench/load.py --profile; py-spy is not installed here).
    profile_to = os.environ.get("WP_TEST_PROFILE")
    if not profile_to:
        server.run(sockets=sockets)
        return
    # uvicorn raises the SIGTERM it caught again once it has stopped: exit through Python then,
    # so the stats are written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profiler = cProfile.Profile()
    try:
        profiler.runcall(server.run, sockets=sockets)
    finally:
        profiler.dump_stats(profile_to)


if __name__ == "__main__":
    main()
