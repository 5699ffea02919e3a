"""SIGTERM drains an API process before it stops (issue 23: rolling upgrades that lose nothing).

uvicorn stops at SIGTERM by closing its listeners and then every connection at once: each
WebSocket gets 1012 in the same instant, and the app learns of it only afterwards. While the app
runs, this module wraps uvicorn's SIGTERM handler: the first SIGTERM stops the listeners from
accepting (new sockets reach the other processes), runs the drain (the hub's sockets closed with
1012, spread over SHUTDOWN_DRAIN_SECONDS: `realtime/drain.py`), and only then hands the signal to
uvicorn, which stops as before (its graceful wait and the app's bounded shutdown steps,
`controlplane/shutdown.py`). A second SIGTERM during the drain is handed on at once. SIGINT
(Ctrl-C at a terminal) is left to uvicorn: it stops at once, as it always did.

Only uvicorn's own handler is wrapped (`watchparty serve`, its workers, and test servers): a
process that runs the app otherwise keeps its signals. Tied to uvicorn's internals (the handler
is its `Server.handle_exit`, the listeners its `Server.servers`): its version is pinned.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import uvicorn

from controlplane.shutdown import within

log = logging.getLogger(__name__)


def _uvicorn_server(handler: Any) -> uvicorn.Server | None:
    server = getattr(handler, "__self__", None)
    return server if isinstance(server, uvicorn.Server) else None


@contextmanager
def drain_on_stop(
    drain: Callable[[], Coroutine[Any, Any, None]], *, bound_s: float
) -> Iterator[None]:
    """While inside, SIGTERM first runs `drain` (at most `bound_s`), then uvicorn's handler.
    Does nothing outside the main thread or when uvicorn does not handle SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed = signal.getsignal(signal.SIGTERM)
    server = _uvicorn_server(installed)
    if server is None or not callable(installed):
        yield
        return
    previous: Callable[[int, FrameType | None], Any] = installed
    loop = asyncio.get_running_loop()
    signalled: list[int] = []
    tasks: list[asyncio.Task[None]] = []  # held: a bare task may be garbage-collected

    async def drain_then_stop(sig: int) -> None:
        try:
            # Stop accepting first: new sockets (a client that is moving too) go elsewhere.
            for listener in server.servers:
                listener.close()
            await within(bound_s, drain(), name="drain")
        finally:
            previous(sig, None)  # whatever happened, the process stops

    def on_signal(sig: int, frame: FrameType | None) -> None:
        if signalled or server.should_exit:
            previous(sig, frame)  # a second signal, or uvicorn stopping already: stop now
            return
        signalled.append(sig)
        log.info("stop signal: draining first", extra={"signal": signal.Signals(sig).name})

        def start() -> None:
            tasks.append(loop.create_task(drain_then_stop(sig), name="drain"))

        loop.call_soon_threadsafe(start)

    signal.signal(signal.SIGTERM, on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
