"""Waiting on a condition instead of on the clock.

A test that sleeps a fixed time and then asserts that something happened races the work it
waits for: on a busy box (seven suites on two cores) the work takes longer and the test fails
although nothing is wrong. Wait for the condition itself, with a deadline far above what it
needs on an idle box; the deadline only decides how long a real failure takes to report."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

# What "generous" means here: ~100x what these conditions take on an idle box.
DEADLINE_S = 30.0


async def eventually(
    check: Callable[[], Any], *, within: float = DEADLINE_S, what: str = "", every: float = 0.05
) -> Any:
    """`check()` (awaited if it returns an awaitable) once it is truthy, polled every `every` s;
    AssertionError after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"not within {within} s: {what or check}")
        await asyncio.sleep(every)


async def retried(
    attempt: Callable[[], Awaitable[Any]], *, within: float = DEADLINE_S, what: str = ""
) -> Any:
    """The result of the first `attempt()` that does not raise AssertionError; the last error
    after `within` s. For "it works again once X is over" where X ends at a time the test cannot
    see (a flood still being worked through, a close not yet handled)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await attempt()
        except AssertionError as error:
            if loop.time() >= deadline:
                raise AssertionError(f"not within {within} s: {what}: {error}") from error
            await asyncio.sleep(0.2)


async def until(cond: Callable[[], Any], within: float, what: str = "") -> None:
    """The agent tests' wait: poll a cheap synchronous `cond` every 10 ms until it holds."""
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)
