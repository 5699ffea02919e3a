"""The Bus and Presence contracts, run against every implementation (in-process, one Redis, a
real 3-master Redis Cluster), as the rate limiter's are: the hub relies on exactly these
promises."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from controlplane.realtime.bus import AGENT, Address, Bus, Guard, InProcessBus, RedisBus
from controlplane.realtime.presence import MemoryPresence, Presence, RedisPresence
from controlplane.services.redis_client import RedisClient
from tests.support.backends import REDIS_URL
from tests.support.redis_cluster import cluster_client

ROOM = "6f1c0000-0000-0000-0000-000000000001"


@pytest.fixture(params=["memory", "redis", "cluster"])
async def redis_or_none(request: pytest.FixtureRequest) -> AsyncIterator[RedisClient | None]:
    if request.param == "memory":
        yield None
        return
    redis: RedisClient
    if request.param == "cluster":
        redis = await cluster_client(request.getfixturevalue("redis_cluster_servers"))
    else:
        redis = Redis.from_url(REDIS_URL)
        await redis.flushdb()
    yield redis
    await redis.aclose()


class Heard:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def __call__(self, room_id: str, kind: str, payload: str) -> None:
        self.items.append((room_id, kind, payload))

    async def wait_for(self, n: int) -> list[tuple[str, str, str]]:
        for _ in range(200):
            if len(self.items) >= n:
                return self.items
            await asyncio.sleep(0.01)
        raise AssertionError(f"heard {len(self.items)} of {n}: {self.items}")


@pytest.fixture
async def bus(redis_or_none: RedisClient | None) -> AsyncIterator[tuple[Bus, Heard]]:
    bus: Bus = InProcessBus() if redis_or_none is None else RedisBus(redis_or_none)
    heard = Heard()
    bus.set_handler(heard)
    await bus.start()
    await bus.subscribe(ROOM)
    yield bus, heard
    await bus.aclose()


@pytest.fixture
def presence(redis_or_none: RedisClient | None) -> Presence:
    return MemoryPresence() if redis_or_none is None else RedisPresence(redis_or_none)


async def test_broadcasts_are_numbered_gap_free_in_publish_order(bus):
    bus, heard = bus
    assert await bus.current_seq(ROOM) == 0
    assert await bus.publish(ROOM, [("a", {"n": 1}), ("b", {"n": 2})]) == [1, 2]
    assert await bus.publish(ROOM, [("c", {})]) == [3]
    got = await heard.wait_for(3)
    envelopes = [json.loads(p) for _, kind, p in got if kind == "b"]
    assert [(e["seq"], e["type"], e["data"]) for e in envelopes] == [
        (1, "a", {"n": 1}),
        (2, "b", {"n": 2}),
        (3, "c", {}),
    ]
    assert all(e["ts"].endswith("Z") for e in envelopes)
    assert await bus.current_seq(ROOM) == 3


async def test_a_guarded_publish_is_a_compare_and_set(bus):
    bus, heard = bus
    assert await bus.get_value(ROOM, "remote") is None
    assert await bus.publish(ROOM, [("x", {})], guard=Guard("remote", "", "v1")) == [1]
    assert await bus.get_value(ROOM, "remote") == "v1"
    # A stale expectation changes nothing and publishes nothing.
    assert await bus.publish(ROOM, [("y", {})], guard=Guard("remote", "", "v2")) is None
    assert await bus.get_value(ROOM, "remote") == "v1"
    assert await bus.publish(ROOM, [("z", {})], guard=Guard("remote", "v1", "v2")) == [2]
    got = await heard.wait_for(2)
    assert [json.loads(p)["type"] for _, _, p in got] == ["x", "z"]


async def test_direct_messages_carry_their_address_and_no_seq(bus):
    bus, heard = bus
    await bus.direct(ROOM, Address.user("u1"), {"type": "rtc.offer", "data": {"sdp": "v=0"}})
    await bus.direct(ROOM, AGENT, {"type": "peer.closed", "data": {"conn": "c1"}})
    got = await heard.wait_for(2)
    assert [(room, kind) for room, kind, _ in got] == [(ROOM, "d"), (ROOM, "d")]
    sent = [json.loads(p) for _, _, p in got]
    assert [Address.parse(d["to"]) for d in sent] == [Address.user("u1"), AGENT]
    assert sent[0]["msg"] == {"type": "rtc.offer", "data": {"sdp": "v=0"}}
    assert await bus.current_seq(ROOM) == 0


async def test_each_subscribed_room_hears_its_own_until_it_unsubscribes(bus):
    """Many rooms (on a cluster, spread over every master: one connection and reader each)."""
    bus, heard = bus
    rooms = [f"6f1c0000-0000-0000-0000-00000000010{i}" for i in range(8)]
    for room in rooms:
        await bus.subscribe(room)
    for i, room in enumerate(rooms):
        assert await bus.publish(room, [("n", {"i": i})]) == [1]
    got = await heard.wait_for(len(rooms))
    assert sorted((r, json.loads(p)["data"]["i"]) for r, _, p in got) == [
        (room, i) for i, room in enumerate(rooms)
    ]
    if isinstance(bus, InProcessBus):
        return  # one process: the hub itself keeps rooms apart
    await bus.unsubscribe(rooms[0])
    await bus.publish(rooms[0], [("gone", {})])
    await bus.publish(rooms[1], [("here", {})])
    got = await heard.wait_for(len(rooms) + 1)
    assert [(r, json.loads(p)["type"]) for r, _, p in got[len(rooms) :]] == [(rooms[1], "here")]


def test_addresses_round_trip_and_junk_is_refused():
    for address in (AGENT, Address.user("u1"), Address.conn("abc.def")):
        assert Address.parse(str(address)) == address
    for junk in ("", "user:", "room:1", "agent:1"):
        assert Address.parse(junk) is None


async def test_a_user_counts_once_however_many_sockets(presence):
    assert await presence.add(ROOM, "c1", "u1") is True
    assert await presence.add(ROOM, "c2", "u1") is False  # a second tab
    assert await presence.add(ROOM, "c3", "u2") is True
    assert await presence.online(ROOM) == {"u1", "u2"}
    assert await presence.conns(ROOM) == {"c1": "u1", "c2": "u1", "c3": "u2"}
    assert await presence.remove(ROOM, "c1", "u1") == 1
    assert await presence.conn_count(ROOM, "u1") == 1
    assert await presence.remove(ROOM, "c2", "u1") == 0
    # Exactly one caller takes a user offline.
    assert await presence.set_offline(ROOM, "u1") is True
    assert await presence.set_offline(ROOM, "u1") is False
    assert await presence.online(ROOM) == {"u2"}


async def test_a_rooms_sockets_added_at_once_say_who_came_online(presence):
    # The hub writes its sockets back this way (hub._reassert), one call per room.
    assert await presence.add(ROOM, "c1", "u1") is True
    came = await presence.add_many(ROOM, {"c1": "u1", "c2": "u1", "c3": "u2", "c4": "u2"})
    assert came == {"u2"}  # u1 was online already; u2 counts once for its two sockets
    assert await presence.conns(ROOM) == {"c1": "u1", "c2": "u1", "c3": "u2", "c4": "u2"}
    assert await presence.online(ROOM) == {"u1", "u2"}
    assert await presence.add_many(ROOM, {}) == set()
    assert await presence.add_many(ROOM, {"c1": "u1"}) == set()


async def test_voice_goes_with_the_user_and_the_browser_status_stays(presence):
    await presence.add(ROOM, "c1", "u1")
    voice = {"muted": True, "deafened": False, "speaking": False}
    await presence.set_voice(ROOM, "u1", voice)
    assert await presence.voices(ROOM) == {"u1": voice}
    await presence.set_offline(ROOM, "u1")
    assert await presence.voices(ROOM) == {}
    assert await presence.browser(ROOM) is None
    status = {"url": "https://example.com/", "title": "Example", "loading": False}
    await presence.set_browser(ROOM, status)
    assert await presence.browser(ROOM) == status


async def test_the_last_media_state_is_kept_for_the_room(presence):
    assert await presence.media(ROOM) is None
    playing = {"present": True, "paused": False, "time": 12.5, "duration": None, "title": "Clip"}
    await presence.set_media(ROOM, playing)
    assert await presence.media(ROOM) == playing
    await presence.set_media(ROOM, {"present": False})
    assert await presence.media(ROOM) == {"present": False}


async def test_the_agent_owner_is_cleared_only_by_its_owner(presence):
    assert await presence.agent(ROOM) is None
    await presence.set_agent(ROOM, "old")
    await presence.set_agent(ROOM, "new")  # a reconnect replaced the socket
    await presence.set_agent(ROOM, None, only_if="old")  # the old socket's late cleanup
    assert await presence.agent(ROOM) == "new"
    await presence.set_agent(ROOM, None, only_if="new")
    assert await presence.agent(ROOM) is None


async def test_keeping_the_agent_owner_restores_it_but_never_steals_it(presence):
    assert await presence.keep_agent(ROOM, "a1") is True  # lost (or swept): written back
    assert await presence.agent(ROOM) == "a1"
    assert await presence.keep_agent(ROOM, "a1") is False  # already ours: renewed only
    await presence.set_agent(ROOM, "a2")  # the agent reconnected through another socket
    assert await presence.keep_agent(ROOM, "a1") is False  # the stale socket does not win
    assert await presence.agent(ROOM) == "a2"


async def test_a_process_that_marks_itself_alive_is_alive(presence):
    await presence.mark_alive("i1", 30)
    assert "i1" in await presence.alive({"i1"})
    assert await presence.alive(set()) == set()
