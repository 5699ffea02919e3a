from __future__ import annotations

import pytest
from redis.asyncio import Redis

from controlplane.services.ratelimit import MemoryRateLimiter, RedisRateLimiter
from tests.support.backends import REDIS_URL
from tests.support.redis_cluster import cluster_client


@pytest.fixture(params=["memory", "redis", "cluster"])
async def limiter(request):
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    if request.param == "cluster":
        redis = await cluster_client(request.getfixturevalue("redis_cluster_servers"))
    else:
        redis = Redis.from_url(REDIS_URL)
        await redis.flushdb()
    yield RedisRateLimiter(redis)
    await redis.aclose()


async def test_limit_then_retry_after(limiter):
    results = [await limiter.hit("k", limit=3, window_s=30) for _ in range(5)]
    assert results[:3] == [None, None, None]
    assert all(r is not None and 1 <= r <= 30 for r in results[3:])
    assert await limiter.hit("other", limit=3, window_s=30) is None


async def test_window_resets(limiter):
    import asyncio

    assert await limiter.hit("w", limit=1, window_s=1) is None
    assert await limiter.hit("w", limit=1, window_s=1) is not None
    await asyncio.sleep(2.1)
    assert await limiter.hit("w", limit=1, window_s=1) is None


async def test_over_tells_without_counting(limiter):
    """Issue 11 #7: a budget can be checked without spending it (room-code misses)."""
    assert await limiter.over("o", limit=2) is None
    for _ in range(2):
        await limiter.hit("o", limit=2, window_s=30)
    for _ in range(5):  # asking does not count
        assert await limiter.over("o", limit=2) is None
    await limiter.hit("o", limit=2, window_s=30)
    left = await limiter.over("o", limit=2)
    assert left is not None and 1 <= left <= 30
    assert await limiter.over("o", limit=3) is None
