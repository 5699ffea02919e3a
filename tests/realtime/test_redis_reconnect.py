"""Redis restarted under a running API (a failover, an operator's restart): the connections the
API had pooled are all dead, and each one's first use after the restart must not become a 500
(seen in bench/faults.py: a join answered 500 "Connection lost" from the session lookup)."""

from __future__ import annotations

import asyncio
import uuid

from controlplane.wiring import build_context
from tests.support.backends import make_settings
from tests.support.redis_server import redis_server


async def test_the_api_reconnects_its_pooled_redis_connections_after_a_restart() -> None:
    with redis_server() as server:
        ctx = build_context(make_settings(REDIS_URL=server.url), runtime=None)
        try:
            store = ctx.session_store

            async def lookups() -> list[object]:
                return list(await asyncio.gather(*(store.get(uuid.uuid4()) for _ in range(8))))

            assert await lookups() == [None] * 8  # the pool now holds several connections
            server.restart()
            assert await lookups() == [None] * 8  # each stale one is replaced, not raised
        finally:
            await ctx.aclose()
