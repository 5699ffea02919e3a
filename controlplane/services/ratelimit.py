"""Fixed-window rate limits: in-process for embedded mode, Redis when configured."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from controlplane.services.redis_client import RedisClient


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_s: int) -> int | None:
        """Count one hit on `key`; return seconds to wait when over `limit`, else None."""
        ...

    async def over(self, key: str, *, limit: int) -> int | None:
        """Without counting: seconds to wait when `key` is already over `limit`, else None."""
        ...


class MemoryRateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._window_of: dict[str, int] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, *, limit: int, window_s: int) -> int | None:
        now = time.monotonic()
        async with self._lock:
            started, count = self._windows.get(key, (now, 0))
            if now - started >= window_s:
                started, count = now, 0
            count += 1
            self._windows[key] = (started, count)
            self._window_of[key] = window_s
            if len(self._windows) > 100_000:  # bound memory under a flood of distinct keys
                self._windows = {k: v for k, v in self._windows.items() if now - v[0] < window_s}
                self._window_of = {k: self._window_of[k] for k in self._windows}
        if count > limit:
            return max(1, int(window_s - (now - started) + 0.999))
        return None

    async def over(self, key: str, *, limit: int) -> int | None:
        # the window length is not stored: it is recovered from the hits' own `hit` calls
        entry = self._windows.get(key)
        window_s = self._window_of.get(key)
        if entry is None or window_s is None:
            return None
        started, count = entry
        left = window_s - (time.monotonic() - started)
        if left <= 0 or count <= limit:
            return None
        return max(1, int(left + 0.999))


# INCR and EXPIRE in one step so a crash between them cannot leave a key that never expires.
_HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""


class RedisRateLimiter:
    """One key per limit (`wp:rl:<key>`), one slot: the same on one Redis or a cluster."""

    def __init__(self, redis: RedisClient, *, prefix: str = "wp:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, *, limit: int, window_s: int) -> int | None:
        count, ttl = await self._script(keys=[self._prefix + key], args=[window_s])
        if int(count) > limit:
            return max(1, int(ttl))
        return None

    async def over(self, key: str, *, limit: int) -> int | None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._prefix + key)
            pipe.ttl(self._prefix + key)
            count, ttl = await pipe.execute()
        if count is None or int(count) <= limit:
            return None
        return max(1, int(ttl))
