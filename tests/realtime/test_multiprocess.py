"""Two (and three) API server processes on real PostgreSQL + Redis serve the same rooms."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from tests.support.backends import make_settings
from tests.support.cluster import (
    MP_PG_URL,
    MP_REDIS_URL,
    api_server,
    api_servers,
    fresh_backends,
    fresh_user,
    started,
)
from tests.support.rooms import Socket, agent_socket, room_socket
from tests.support.servers import Server
from tests.support.smtp import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(params=["redis", "redis_cluster"])
async def cluster(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[list[Server], Path]]:
    """Three API processes on one Redis, or on a real 3-master Redis Cluster (Celery's broker
    then the plain Redis)."""
    await fresh_backends()  # empty database and Redis, schema at head
    redis_env: dict[str, str] = {}
    if request.param == "redis_cluster":
        redis_servers = request.getfixturevalue("redis_cluster_servers")
        redis_servers.flush()
        redis_env = {
            "REDIS_URL": redis_servers.url,
            "REDIS_CLUSTER": "true",
            "CELERY_BROKER_URL": MP_REDIS_URL,
        }
    runtime_dir = tmp_path / "runtime"
    runtime_dir.mkdir()
    with api_servers(3, tmp_path, runtime_dir, env=redis_env) as servers:
        yield servers, runtime_dir


async def test_chat_presence_remote_and_agent_relay_cross_processes(cluster):
    (a_srv, b_srv, c_srv), runtime_dir = cluster
    async with (
        httpx.AsyncClient(base_url=a_srv.url, timeout=30) as http_a,
        httpx.AsyncClient(base_url=b_srv.url, timeout=30) as http_b,
    ):
        host, guest = await fresh_user(http_a), await fresh_user(http_b)
        resp = await http_a.post("/api/rooms", json={"title": "x"}, headers=host.headers)
        code = resp.json()["code"]
        assert (
            await http_b.post(f"/api/rooms/{code}/join", headers=guest.headers)
        ).status_code == 200
        h = await room_socket(a_srv.ws_url, code, host.access_token)
        g = await room_socket(b_srv.ws_url, code, guest.access_token)
        await h.expect("presence.joined", user_id=guest.id)
        await g.send("chat.send", {"text": "from B"})
        await h.expect("chat.message", text="from B")
        await h.send("chat.send", {"text": "from A"})
        await g.expect("chat.message", text="from A")
        await g.send("remote.request")
        await h.expect("remote.requested", user_id=guest.id)
        await h.send("remote.grant", {"user_id": guest.id})
        await g.expect("remote.changed", holder_id=guest.id)
        # the agent sits on process C; the viewer on B reaches it and gets its answer
        agent = await agent_socket(c_srv.agent_ws_url, started(runtime_dir, code))
        await agent.send("ready", {"width": 1280, "height": 720, "fps": 30, "codec": "h264"})
        await h.expect("room.status", status="ready")
        await g.send("rtc.offer", {"to": "agent", "sdp": "offer from B"})
        offer = await agent.expect("rtc.offer", sdp="offer from B")
        await agent.send(
            "rtc.answer", {"to": guest.id, "conn": offer["data"]["conn"], "sdp": "ans"}
        )
        assert (await g.expect("rtc.answer"))["data"] == {"from": "agent", "sdp": "ans"}
        await g.send("browser.navigate", {"url": "http://127.0.0.1:1/"})
        await agent.expect("browser.navigate")
        await agent.send("browser.status", {"url": "http://127.0.0.1:1/", "title": "t"})
        await h.expect("browser.status", title="t")
        # kick from A's REST API closes the socket on B and releases the remote everywhere
        resp = await http_a.delete(
            f"/api/rooms/{code}/participants/{guest.id}", headers=host.headers
        )
        assert resp.status_code == 204
        assert await g.closed() == 4403
        await h.expect("remote.changed", holder_id=None, reason="holder_kicked")
        await agent.expect("remote.changed", holder_id=None)
        await h.expect("presence.left", user_id=guest.id)
        start = h.received[0]["seq"]
        seqs = [m["seq"] for m in h.received[1:] if m["type"] not in ("error", "pong")]
        assert seqs == list(range(start + 1, start + 1 + len(seqs)))


async def test_racing_takers_across_processes_get_exactly_one_holder(cluster):
    (a_srv, b_srv, _), _ = cluster
    async with httpx.AsyncClient(base_url=a_srv.url, timeout=30) as http:
        host = await fresh_user(http)
        code = (
            await http.post(
                "/api/rooms", json={"title": "race", "max_participants": 20}, headers=host.headers
            )
        ).json()["code"]
        users = [await fresh_user(http) for _ in range(8)]
        for u in users:
            await http.post(f"/api/rooms/{code}/join", headers=u.headers)
        h = await room_socket(a_srv.ws_url, code, host.access_token)
        socks: list[Socket] = [
            await room_socket((a_srv, b_srv)[i % 2].ws_url, code, u.access_token)
            for i, u in enumerate(users)
        ]
        await h.send("remote.release")
        await h.expect("remote.changed", holder_id=None)
        for s in socks:
            await s.expect("remote.changed", holder_id=None)
        await asyncio.gather(*(s.send("remote.request") for s in socks))
        claimed = await h.expect("remote.changed", reason="claimed")
        await asyncio.sleep(1.0)
        changes = [
            m
            for m in h.received
            if m["type"] == "remote.changed" and m["data"]["reason"] == "claimed"
        ]
        assert len(changes) == 1
        requested = {m["data"]["user_id"] for m in h.of_type("remote.requested")}
        winner = claimed["data"]["holder_id"]
        assert requested == {u.id for u in users} - {winner}
        for s in socks:  # every client on both processes agrees on the holder
            assert [m["data"]["holder_id"] for m in s.of_type("remote.changed")][-1] == winner


async def test_chat_survives_an_api_restart(tmp_path: Path):
    await fresh_backends()
    runtime_dir = tmp_path / "rt"
    runtime_dir.mkdir()
    port = free_port()
    with api_server(tmp_path, runtime_dir, port) as srv:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
            host = await fresh_user(http)
            code = (
                await http.post("/api/rooms", json={"title": "x"}, headers=host.headers)
            ).json()["code"]
            s = await room_socket(srv.ws_url, code, host.access_token)
            for i in range(3):
                await s.send("chat.send", {"text": f"kept {i}"})
                await s.expect("chat.message", text=f"kept {i}")
    assert await s.closed() is not None
    with api_server(tmp_path, runtime_dir, port) as srv:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
            hist = await http.get(f"/api/rooms/{code}/messages", headers=host.headers)
            assert [m["text"] for m in hist.json()["data"]] == ["kept 2", "kept 1", "kept 0"]
            s2 = await room_socket(srv.ws_url, code, host.access_token)
            assert [m["text"] for m in s2.received[0]["data"]["chat"]] == [
                "kept 0",
                "kept 1",
                "kept 2",
            ]
            await s2.close()


async def test_sockets_of_a_crashed_api_process_are_cleared_by_the_reaper(tmp_path: Path):
    """An API process killed with -9 cannot take its users offline; once its liveness mark
    expires, the next sweep does: the others see them leave and the remote is freed, so the
    room can go idle and be reaped instead of looking occupied forever."""
    from controlplane.reaper.sweep import sweep
    from controlplane.wiring import build_context
    from tests.support.rooms import RecordingRuntime

    await fresh_backends()
    runtime_dir = tmp_path / "rt"
    runtime_dir.mkdir()
    with api_servers(2, tmp_path, runtime_dir) as (a, b):
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as http:
            host, guest = await fresh_user(http), await fresh_user(http)
            code = (
                await http.post("/api/rooms", json={"title": "x"}, headers=host.headers)
            ).json()["code"]
            await http.post(f"/api/rooms/{code}/join", headers=guest.headers)
            on_a = await room_socket(a.ws_url, code, host.access_token)
            on_b = await room_socket(b.ws_url, code, guest.access_token)
            state = on_a.of_type("room.state")[-1]["data"]
            assert state["remote"]["holder_id"] == host.id
            instance_a = state["you"]["conn_id"].split(".", 1)[0]

            a.process.kill()  # no cleanup of any kind
            a.process.wait(10)
            redis = Redis.from_url(MP_REDIS_URL)
            assert await redis.exists(f"wp:instance:{instance_a}")
            settings = make_settings(DATABASE_URL=MP_PG_URL, REDIS_URL=MP_REDIS_URL)
            ctx = build_context(settings, runtime=RecordingRuntime())
            try:
                room_id = state["room"]["id"]
                # Still "online" while A's mark lives: a slow process is not a dead one.
                await sweep(ctx=ctx)
                assert await ctx.presence.online(room_id) == {host.id, guest.id}
                await redis.delete(f"wp:instance:{instance_a}")  # its 30 s mark expired
                await sweep(ctx=ctx)
                assert await ctx.presence.online(room_id) == {guest.id}
                await on_b.expect("presence.left", user_id=host.id)
                changed = await on_b.expect("remote.changed")
                assert changed["data"]["holder_id"] is None
                assert await ctx.presence.conns(room_id) == {
                    on_b.of_type("room.state")[-1]["data"]["you"]["conn_id"]: guest.id
                }
                before = len(on_b.received)
                await sweep(ctx=ctx)  # nothing left to clear: no second announcement
                await asyncio.sleep(0.5)
                assert "presence.left" not in [m["type"] for m in on_b.received[before:]]
            finally:
                await ctx.aclose()
                await redis.aclose()
            await on_b.close()
