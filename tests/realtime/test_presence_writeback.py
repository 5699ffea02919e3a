"""The hub writes its live sockets back into presence every INSTANCE_HEARTBEAT_S (after a Redis
that lost its data, or a sweep of a process cut off from it): one Redis round trip per room, not
one per socket (at 5,000 sockets per process the latter was 500 transactions a second;
docs/performance.md, "Sockets per API process"). Counted on a Redis of the test's own."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis

from controlplane.realtime import hub as hub_module
from tests.support.backends import pg_redis_settings
from tests.support.redis_server import redis_server
from tests.support.rooms import create_room, join, live_server, room_socket
from tests.support.users import signed_in

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def execs(redis: Redis) -> int:
    """Scripts run so far (EVALSHA, or EVAL the first time): presence's add, the bus's publish."""
    stats: dict[str, Any] = await redis.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))


async def test_a_rooms_sockets_are_written_back_in_one_round_trip(monkeypatch: Any) -> None:
    monkeypatch.setattr(hub_module, "INSTANCE_HEARTBEAT_S", 3600.0)  # the test writes back itself
    settings = await pg_redis_settings(ROOM_PRESENCE_GRACE_SECONDS=0.1)
    with redis_server() as own:
        settings = settings.model_copy(update={"REDIS_URL": own.url})
        async with live_server(settings) as live:
            host, guest = await signed_in(live.http), await signed_in(live.http)
            room = await create_room(live.http, host.headers)
            await join(live.http, room["code"], guest.headers)
            sockets = [
                await room_socket(live.ws_url, room["code"], user.access_token)
                for user in (host, guest)
                for _ in range(5)  # ROOM_MAX_SOCKETS_PER_USER each: ten sockets, two people
            ]
            hub, rid = live.app.state.hub, room["id"]
            redis = Redis.from_url(own.url)
            try:
                await redis.flushdb()  # restarted without persistence: presence is gone
                before = await execs(redis)
                await hub._reassert()
                # one script for the room's ten sockets, and one publish script for each of
                # the two people it announces back (one per socket would be 10 + 2)
                assert await execs(redis) - before == 1 + 2
                conns = await redis.hgetall(f"wp:room:{{{rid}}}:conns")
                assert len(conns) == 10
                online = await redis.smembers(f"wp:room:{{{rid}}}:online")
                assert {m.decode() for m in online} == {host.id, guest.id}
            finally:
                await redis.aclose()
            # Each person is announced back once, however many sockets they have; a write-back
            # that found nothing lost announces nobody.
            watcher = sockets[0]
            await watcher.expect("presence.joined", user_id=host.id)
            await hub._reassert()
            await sockets[5].send("chat.typing", {"typing": True})
            await watcher.expect("chat.typing", user_id=guest.id)  # broadcasts keep their order
            joined = [m["data"]["user_id"] for m in watcher.of_type("presence.joined")]
            # the guest's first socket opening, then the write-back's two
            assert sorted(joined) == sorted([guest.id, guest.id, host.id])
            for sock in sockets:
                await sock.close()
