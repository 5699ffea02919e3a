"""The bus and presence on a real Redis Cluster while it changes under them. A resharding moves
a room's slot to another master under live traffic: the room's state moves with it, its seq
keeps counting from where it was, the subscriber of another API process follows its channels to
the new owner, and what it misses is one run of broadcasts in the move's window, which clients
see as a `seq` jump and resync from (docs/protocol.md, "Envelope"); nothing is heard twice or
out of order. A master fails: once its replica is elected, the room's seq and presence are
there and the subscriber hears the room again from the promoted replica. And the API's own
wiring with REDIS_CLUSTER=true."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import RedisCluster

from controlplane.realtime.bus import AGENT, Guard, RedisBus, room_tag
from controlplane.realtime.presence import RedisPresence
from controlplane.services.redis_client import redis_client
from controlplane.wiring import build_context
from tests.support.backends import REDIS_URL, make_settings
from tests.support.redis_cluster import RedisClusterServers, cluster_client, redis_cluster
from tests.support.waits import eventually, retried

ROOM = "6f1c0000-0000-0000-0000-00000000c1a5"


@pytest.fixture
def servers() -> Iterator[RedisClusterServers]:
    """A cluster of this test's own: it moves slots."""
    with redis_cluster() as servers:
        yield servers


class Heard:
    def __init__(self) -> None:
        self.broadcasts: list[int] = []
        self.directs: list[dict[str, object]] = []

    def __call__(self, room_id: str, kind: str, payload: str) -> None:
        assert room_id == ROOM
        if kind == "b":
            self.broadcasts.append(int(json.loads(payload)["seq"]))
        else:
            self.directs.append(json.loads(payload))


async def test_a_room_moved_to_another_master_keeps_its_state_and_its_subscribers(servers):
    publisher_redis = await cluster_client(servers)
    # Another API process: a client of its own, subscribed to the room.
    subscriber_redis = redis_client(servers.url, cluster=True)
    assert isinstance(subscriber_redis, RedisCluster)
    publisher, subscriber = RedisBus(publisher_redis), RedisBus(subscriber_redis)
    heard = Heard()
    subscriber.set_handler(heard)
    presence = RedisPresence(publisher_redis)
    try:
        await subscriber.start()
        await subscriber.subscribe(ROOM)
        await presence.add(ROOM, "c1", "u1")
        assert await publisher.publish(ROOM, [("remote", {})], guard=Guard("remote", "", "u1"))

        slot = servers.slot_of(f"{room_tag('wp:room:', ROOM)}:seq")
        source = servers.owner(slot)
        target = next(p for p in servers.ports if p != source)
        assert set(subscriber.channels.placement().values()) == {f"127.0.0.1:{source}"}

        published: list[int] = []
        stop = asyncio.Event()

        async def publish_steadily() -> None:
            while not stop.is_set():
                seqs = await publisher.publish(ROOM, [("chat", {"n": len(published)})])
                assert seqs is not None
                published.extend(seqs)
                await asyncio.sleep(0.005)

        sender = asyncio.create_task(publish_steadily())
        await eventually(lambda: len(heard.broadcasts) > 20, what="traffic before the move")
        before_move = published[-1]
        moved = await asyncio.to_thread(servers.move_slot, slot, target)
        after_move = published[-1]
        assert moved >= 4  # seq, the guarded value, conns and online went along
        # The subscriber follows the channels to their new owner and hears new broadcasts.
        await eventually(
            lambda: heard.broadcasts and heard.broadcasts[-1] > after_move + 20,
            what="broadcasts heard again after the move",
        )
        stop.set()
        await sender
        last = published[-1]
        await eventually(lambda: heard.broadcasts[-1] == last, what="the last broadcast")

        # One counter, never reset or doubled; heard in order, never twice.
        assert published == list(range(2, last + 1))
        assert heard.broadcasts == sorted(set(heard.broadcasts))
        # What was missed is one run of broadcasts, inside the move's window.
        missed = sorted(set(published) - set(heard.broadcasts))
        if missed:
            assert missed == list(range(missed[0], missed[-1] + 1)), missed
            assert missed[0] > before_move, (before_move, missed)
        print(f"published {len(published)}, missed {len(missed)} ({before_move}..{after_move})")

        assert set(subscriber.channels.placement().values()) == {f"127.0.0.1:{target}"}
        assert servers.owner(slot) == target
        # The room's state moved with its slot.
        assert await publisher.get_value(ROOM, "remote") == "u1"
        assert await presence.conns(ROOM) == {"c1": "u1"}
        assert await publisher.current_seq(ROOM) == last
        await publisher.direct(ROOM, AGENT, {"type": "peer.closed", "data": {"conn": "c1"}})
        await eventually(lambda: heard.directs, what="a direct message after the move")
    finally:
        await subscriber.aclose()
        await publisher.aclose()
        await subscriber_redis.aclose()
        await publisher_redis.aclose()


async def test_a_master_failover_moves_the_rooms_subscribers_to_the_promoted_replica() -> None:
    with redis_cluster(replicas=1) as servers:
        # A room on a master other than the one REDIS_URL names (that one stays up).
        room = next(
            r
            for r in (f"6f1c0000-0000-0000-0000-{i:012d}" for i in range(100))
            if servers.owner(servers.slot_of(f"{room_tag('wp:room:', r)}:seq")) != servers.ports[0]
        )
        publisher_redis = await cluster_client(servers)
        subscriber_redis = redis_client(servers.url, cluster=True)
        publisher, subscriber = RedisBus(publisher_redis), RedisBus(subscriber_redis)
        heard: list[int] = []
        subscriber.set_handler(lambda _room, kind, p: heard.append(int(json.loads(p)["seq"])))
        presence = RedisPresence(publisher_redis)
        try:
            await subscriber.start()
            await subscriber.subscribe(room)
            await presence.add(room, "c1", "u1")
            assert await publisher.publish(room, [("a", {})]) == [1]
            await eventually(lambda: heard == [1], what="a broadcast before the failover")
            master = servers.owner(servers.slot_of(f"{room_tag('wp:room:', room)}:seq"))
            replica = await asyncio.to_thread(servers.fail_master, master)

            async def publish_again() -> list[int] | None:
                try:
                    return await publisher.publish(room, [("b", {})])
                except Exception:  # the slot is down until the replica is elected
                    return None

            # Commands fail until the replica serves the slot; then the seq goes on from 1.
            seqs = await eventually(publish_again, what="publishing after the failover", every=0.2)
            assert seqs == [2]  # the replica had the room's seq
            assert servers.owner(servers.slot_of(f"{room_tag('wp:room:', room)}:seq")) == replica

            async def a_new_broadcast_is_heard() -> None:
                seqs = await publisher.publish(room, [("c", {})])
                assert seqs is not None
                await eventually(lambda: seqs[0] in heard, within=1.0, what="the new broadcast")

            # The subscriber follows the room's channels to the promoted replica.
            await retried(a_new_broadcast_is_heard, what="the subscriber heard again")
            assert heard == sorted(set(heard)) and heard[0] == 1
            assert set(subscriber.channels.placement().values()) == {f"127.0.0.1:{replica}"}
            assert await presence.conns(room) == {"c1": "u1"}
        finally:
            await subscriber.aclose()
            await publisher.aclose()
            await subscriber_redis.aclose()
            await publisher_redis.aclose()


async def test_the_api_wires_the_cluster_client(redis_cluster_servers, tmp_path: Path) -> None:
    """REDIS_CLUSTER=true: every Redis-backed part of the API runs on the cluster client."""
    redis_cluster_servers.flush()
    settings = make_settings(
        DATA_DIR=tmp_path,
        REDIS_URL=redis_cluster_servers.url,
        REDIS_CLUSTER="true",
        CELERY_BROKER_URL=REDIS_URL,
    )
    ctx = build_context(settings)
    try:
        assert isinstance(ctx.redis, RedisCluster)
        assert await ctx.redis.ping()
        assert await ctx.rate_limiter.hit("probe", limit=1, window_s=30) is None
        assert await ctx.rate_limiter.hit("probe", limit=1, window_s=30) is not None
        await ctx.presence.mark_alive("i1", 30)
        await ctx.presence.mark_alive("i2", 30)
        assert await ctx.presence.alive({"i1", "i2", "i3"}) == {"i1", "i2"}
    finally:
        await ctx.aclose()
