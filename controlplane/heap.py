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
from collections.abc import Callable


def freeze_startup_heap() -> int:
    """Collect once, then exempt everything alive now from later collections (called once per
    process, after the app is built). Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def time_collections(observe: Callable[[int, float], None]) -> None:
    """Call `observe(generation, seconds)` after every collection of this process, so its pauses
    are seen (`watchparty_gc_pause_seconds` on /metrics). Once per served process: callbacks are
    process-wide, and an app built inside a test runner does not install one."""
    started = 0.0

    def on_collection(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        # The collector runs with the GIL held and never re-enters itself: start and stop pair.
        if phase == "start":
            started = time.perf_counter()
        else:
            observe(info["generation"], time.perf_counter() - started)

    gc.callbacks.append(on_collection)
