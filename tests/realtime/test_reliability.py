"""Reliability on both backends (issue 11, items 12-14): chat retries are idempotent, failed rooms
are refused and ended, presence survives a Redis that lost its data or a process cut off from it,
and the reaper holds its hand after an outage of its own dependencies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from controlplane.models import Message
from controlplane.realtime import hub as hub_module
from controlplane.reaper import sweep as sweep_module
from controlplane.reaper.policy import OutageClock
from controlplane.reaper.sweep import sweep
from controlplane.rooms.launch import fail_room
from tests.support.backends import pg_redis_settings
from tests.support.reaper import ctx_of, hosted_ready_room, ready_room, reaper_live, room_row
from tests.support.rooms import (
    Live,
    agent_socket,
    create_room,
    join,
    live,
    live_server,
    room_socket,
)
from tests.support.users import signed_in

__all__ = ["live", "reaper_live"]


def fail_first_publish_of(live: Live, type_: str) -> list[str]:
    """The bus refuses the first publish carrying a `type_` event (as Redis going away between
    the INSERT and the PUBLISH would); returns the list the refused types are appended to."""
    bus = live.app.state.hub.bus
    publish = bus.publish
    refused: list[str] = []

    async def flaky(room_id: str, events: list[Any], **kw: Any) -> Any:
        if not refused and any(t == type_ for t, _ in events):
            refused.append(type_)
            raise ConnectionError("the bus went away")
        return await publish(room_id, events, **kw)

    bus.publish = flaky
    return refused


async def test_chat_retry_after_a_failed_publish_is_stored_once(live: Live):
    host, guest = await signed_in(live.http), await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    await join(live.http, room["code"], guest.headers)
    a = await room_socket(live.ws_url, room["code"], host.access_token)
    b = await room_socket(live.ws_url, room["code"], guest.access_token)
    refused = fail_first_publish_of(live, "chat.message")

    await b.send("chat.send", {"text": "popcorn?", "client_id": "c-7"})
    await b.expect("error", code="internal_error")
    assert refused == ["chat.message"]
    # The client retries with the same id: the stored message is echoed, not stored again.
    await b.send("chat.send", {"text": "popcorn?", "client_id": "c-7"})
    echo = await b.expect("chat.message", client_id="c-7")
    seen = await a.expect("chat.message", client_id="c-7")
    assert seen["data"]["id"] == echo["data"]["id"]
    # A second retry (its echo was lost too) repeats the same message, same id.
    await b.send("chat.send", {"text": "popcorn?", "client_id": "c-7"})
    again = await b.expect("chat.message", client_id="c-7")
    assert again["data"]["id"] == echo["data"]["id"]

    hist = await live.http.get(f"/api/rooms/{room['code']}/messages", headers=host.headers)
    assert [m["text"] for m in hist.json()["data"]] == ["popcorn?"]
    async with live.app.state.ctx.sessionmaker() as s:
        stored = await s.execute(
            select(func.count()).where(col(Message.room_id) == uuid.UUID(room["id"]))
        )
        assert stored.scalar_one() == 1
    # Per user and room: another user's (or another room's) "c-7" is another message.
    await a.send("chat.send", {"text": "yes", "client_id": "c-7"})
    mine = await a.expect("chat.message", text="yes")
    assert mine["data"]["id"] != echo["data"]["id"]
    # The snapshot carries the client ids, so a client back from an outage knows what landed.
    c = await room_socket(live.ws_url, room["code"], guest.access_token)
    chat = c.of_type("room.state")[-1]["data"]["chat"]
    assert [(m["text"], m["client_id"]) for m in chat] == [("popcorn?", "c-7"), ("yes", "c-7")]


async def test_concurrent_retries_of_one_chat_message_store_it_once(live: Live):
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    socks = [await room_socket(live.ws_url, room["code"], host.access_token) for _ in range(3)]
    await asyncio.gather(
        *(s.send("chat.send", {"text": "same", "client_id": "dup-1"}) for s in socks)
    )
    ids = {(await socks[0].expect("chat.message", client_id="dup-1"))["data"]["id"]}
    await asyncio.sleep(0.5)
    ids |= {m["data"]["id"] for s in socks for m in s.of_type("chat.message")}
    assert len(ids) == 1
    hist = await live.http.get(f"/api/rooms/{room['code']}/messages", headers=host.headers)
    assert len(hist.json()["data"]) == 1


# ---------------------------------------------------------------- item 13: failed rooms


async def test_failed_room_refuses_joins_with_the_reason_and_is_ended_keeping_chat(
    reaper_live: Live,
):
    live, ctx = reaper_live, ctx_of(reaper_live)
    room, host, viewer, _agent = await hosted_ready_room(live)
    host_headers = host.headers
    await viewer.send("chat.send", {"text": "it froze", "client_id": "f-1"})
    await viewer.expect("chat.message", client_id="f-1")
    row = await room_row(ctx, room["code"])
    async with ctx.sessionmaker() as session:
        assert await fail_room(
            ctx=ctx, session=session, room=row, reason="The room's browser stopped"
        )
    await viewer.expect("room.status", status="failed")

    guest = await signed_in(live.http)
    refused = await live.http.post(f"/api/rooms/{room['code']}/join", headers=guest.headers)
    assert refused.status_code == 410, refused.text
    assert refused.json()["code"] == "room_failed"
    assert "The room's browser stopped" in refused.json()["detail"]

    report = await sweep(ctx=ctx)
    assert report.ended == [room["code"]]
    ended = await viewer.expect("room.ended")
    assert ended["data"]["reason"] == "end_failed"
    assert await viewer.closed() == 4410
    got = (await live.http.get(f"/api/rooms/{room['code']}", headers=host_headers)).json()
    assert got["status"] == "ended" and got["ended_at"]
    assert got["status_reason"] == "The room's browser stopped"
    hist = await live.http.get(f"/api/rooms/{room['code']}/messages", headers=host_headers)
    assert [m["text"] for m in hist.json()["data"]] == ["it froze"]
    assert (await sweep(ctx=ctx)).ended == []


# ---------------------------------------------------------------- item 12: the sweep's grace


async def test_sweep_after_an_outage_of_its_dependencies_spares_healthy_rooms(
    reaper_live: Live, monkeypatch: Any
):
    live, ctx = reaper_live, ctx_of(reaper_live)
    room, _viewer, _agent = await ready_room(live)
    seen = (await room_row(ctx, room["code"])).agent_seen_at
    assert seen is not None
    timeout = timedelta(seconds=live.app_settings.ROOM_HEARTBEAT_TIMEOUT_SECONDS)
    outages = OutageClock()

    async def down(_ctx: Any) -> None:
        raise ConnectionRefusedError("database unreachable")

    # The database is down for longer than the heartbeat timeout: heartbeats are not recorded,
    # and the sweeps of that time do nothing at all.
    with monkeypatch.context() as m:
        m.setattr(sweep_module, "probe_dependencies", down)
        report = await sweep(ctx=ctx, now=seen + timeout / 2, outages=outages)
        assert report == sweep_module.SweepReport()
    back = seen + timeout * 2
    # The first sweep after it sees a heartbeat older than the timeout: not a lost agent.
    report = await sweep(ctx=ctx, now=back, outages=outages)
    assert report.failed == [] and report.ended == []
    assert (await room_row(ctx, room["code"])).status == "ready"
    # The grace is bounded: an agent still silent a whole timeout after the outage is lost.
    report = await sweep(ctx=ctx, now=back + timeout, outages=outages)
    assert report.failed == [room["code"]]


# ---------------------------------------------------------------- item 12: presence written back


@pytest.fixture
async def redis_live(monkeypatch: Any) -> AsyncIterator[Live]:
    """A live server on PostgreSQL + Redis whose hub renews its presence every 0.2 s. (Only Redis
    presence can be lost or swept apart from the process holding the sockets: embedded presence
    lives and dies with it.)"""
    monkeypatch.setattr(hub_module, "INSTANCE_HEARTBEAT_S", 0.2)
    settings = await pg_redis_settings(
        ROOM_PRESENCE_GRACE_SECONDS=0.1,
        REAPER_INTERVAL_SECONDS=3600,
        ROOM_IDLE_MINUTES=1,
        ROOM_HEARTBEAT_TIMEOUT_SECONDS=86400,
    )
    async with live_server(settings) as server:
        yield server


async def until(check: Any, within: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_presence_comes_back_after_redis_lost_its_data(redis_live: Live):
    live, ctx = redis_live, ctx_of(redis_live)
    room, host, _viewer, _agent = await hosted_ready_room(live)
    rid = room["id"]
    assert await ctx.presence.online(rid) == {host.id}
    agent_conn = await ctx.presence.agent(rid)
    assert agent_conn is not None

    assert ctx.redis is not None
    await ctx.redis.flushdb()  # a Redis restarted without persistence
    assert await ctx.presence.online(rid) == set()

    async def back() -> bool:
        online = await ctx.presence.online(rid)
        return online == {host.id} and await ctx.presence.agent(rid) == agent_conn

    await until(back)
    assert len(await ctx.presence.conns(rid)) == 1
    # So the room is not idle: the sweep keeps it.
    created = (await room_row(ctx, room["code"])).created_at
    report = await sweep(ctx=ctx, now=created + timedelta(minutes=5))
    assert report.ended == [] and report.failed == []


async def test_sockets_swept_while_cut_off_from_redis_are_registered_again(redis_live: Live):
    live, ctx = redis_live, ctx_of(redis_live)
    host, guest = await signed_in(live.http), await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    await join(live.http, room["code"], guest.headers)
    a = await room_socket(live.ws_url, room["code"], host.access_token)
    b = await room_socket(live.ws_url, room["code"], guest.access_token)
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[room["code"]])
    rid, hub = room["id"], live.app.state.hub
    assert await ctx.presence.online(rid) == {host.id, guest.id}

    # The process was cut off from Redis past its liveness mark's TTL: another process sees it
    # as crashed and sweeps its sockets (here the sweep runs while the mark is gone, as there).
    heartbeat = [t for t in hub._tasks if t.get_name() == "hub-instance-heartbeat"]
    assert len(heartbeat) == 1
    heartbeat[0].cancel()
    assert ctx.redis is not None
    await ctx.redis.delete(f"wp:instance:{hub.instance}")
    gone = await hub.reap_dead_instances(rid)
    assert len(gone) == 2
    await a.expect("presence.left", user_id=guest.id)
    await a.expect("room.status", agent_connected=False)
    assert await ctx.presence.online(rid) == set() and await ctx.presence.agent(rid) is None

    # Back in touch with Redis: its next heartbeat writes its live sockets back and says so.
    hub.spawn(hub._instance_heartbeat(), "hub-instance-heartbeat")
    await a.expect("presence.joined", user_id=guest.id)
    await b.expect("presence.joined", user_id=host.id)
    await a.expect("room.status", agent_connected=True)
    assert await ctx.presence.online(rid) == {host.id, guest.id}
    assert await ctx.presence.agent(rid) is not None
    # A socket closed since is not written back.
    await b.close()
    await a.expect("presence.left", user_id=guest.id)
    await asyncio.sleep(0.5)
    assert await ctx.presence.online(rid) == {host.id}
    await agent.close()
