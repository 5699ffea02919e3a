"""Bounded shutdown steps: a process that is asked to stop, stops.

Each step of closing (background tasks, the hub, Redis, the database) gets at most a fixed time
(SHUTDOWN_TIMEOUT_SECONDS). A step still running then is cancelled and *left behind*, never
awaited: `asyncio.wait_for` would wait for the cancellation to finish, so a step that ignores
its cancellation, or a client library retrying a dependency that is cut off, would hold the
process up. A warning names the step.

A cancellation can also be lost: Python 3.11's `asyncio.wait_for` returns the inner result
instead of raising when the awaited thing completes just as the cancellation arrives (fixed in
3.12), and the task goes on as if never cancelled. redis-py sends every command under such a
`wait_for` (its socket timeout), so a task awaiting Redis loses most cancellations (45 of 60 in
a probe of back-to-back commands). That is what kept a test server up past 30 s on a busy machine
(issue 23: the room start watcher polls Redis once a second, the hub's heartbeat too, and the
app's shutdown cancelled each once and waited for it without limit). So tasks are cancelled
again every RECANCEL_S while they are waited for: a lost cancellation is repeated at the next
await.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import Any

log = logging.getLogger(__name__)

RECANCEL_S = 0.25


async def _cancel_until_done(tasks: list[asyncio.Task[Any]], timeout_s: float) -> set[Any]:
    """Cancel `tasks`, again every RECANCEL_S, until they end or `timeout_s` passes; the
    tasks still running then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    left: set[Any] = {task for task in tasks if not task.done()}
    while left:
        for task in left:
            task.cancel()
        wait_s = min(RECANCEL_S, deadline - loop.time())
        if wait_s <= 0:
            break
        _, left = await asyncio.wait(left, timeout=wait_s)
    return left


async def within(timeout_s: float, step: Awaitable[Any], *, name: str) -> None:
    """Run `step` for at most `timeout_s`; a failure is logged, not raised (the next step
    still runs)."""
    task = asyncio.ensure_future(step)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        # a short grace for the cancellation to land (a lost one is repeated), then go on
        if await _cancel_until_done([task], min(1.0, timeout_s)):
            log.warning("shutdown step overran: left behind", extra={"step": name, "s": timeout_s})
        else:
            log.warning("shutdown step overran: cancelled", extra={"step": name, "s": timeout_s})
        return
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("shutdown step failed", extra={"step": name, "error": repr(error)})


async def cancel_all(tasks: Iterable[asyncio.Task[Any]], timeout_s: float, *, name: str) -> None:
    """Cancel `tasks` and wait at most `timeout_s` for them to end; those that do not (they
    ignored their cancellation) are named in a warning and left behind."""
    left = await _cancel_until_done(list(tasks), timeout_s)
    if left:
        log.warning(
            "tasks did not stop: left behind",
            extra={"step": name, "tasks": sorted(t.get_name() for t in left), "s": timeout_s},
        )
