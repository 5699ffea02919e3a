"""The API process's heap and CPython's cyclic garbage collector.

A full collection walks every tracked object and stops the event loop while it does: on this
project's 2-core test box about 1 µs an object, so an API process holding 1,000 room sockets
(~300 objects each) pauses 300 ms or more each time one runs, and every chat message in flight
waits (docs/performance.md "Sockets per API process"). What the process imported and built at
startup (FastAPI, SQLAlchemy, pydantic models, the app: ~160,000 objects) lives as long as the
process, so the collector gains nothing by walking it again and again: `gc.freeze()` moves it out
of every later collection. Objects made afterwards are collected as before.
"""

from __future__ import annotations

import gc
import time
from collections import deque


def freeze_startup_heap() -> int:
    """Collect once, then exempt everything alive now from later collections (called once per
    process, after the app is built). Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class CollectorPauses:
    """Every collection's generation and pause, kept until /metrics is scraped (the route moves
    them into `watchparty_gc_pause_seconds`). `install()` once per served process: callbacks are
    process-wide, and an app built inside a test runner installs none.

    The callback touches nothing but a bounded deque: a Prometheus metric takes a plain
    (non-reentrant) lock, and a collection can start inside one of its own locked sections (a
    scrape copies a dict under it), so observing there could deadlock the event loop. A deque's
    append and popleft are atomic under the GIL and start no collection (one cannot nest)."""

    def __init__(self, keep: int = 4096) -> None:
        self._pending: deque[tuple[int, float]] = deque(maxlen=keep)
        self._started = 0.0

    def install(self) -> None:
        gc.callbacks.append(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._pending.append((info["generation"], time.perf_counter() - self._started))

    def drain(self) -> list[tuple[int, float]]:
        """The pauses since the last drain, oldest first (at most `keep` of them)."""
        out = []
        while self._pending:
            out.append(self._pending.popleft())
        return out
