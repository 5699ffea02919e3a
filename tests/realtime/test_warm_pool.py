"""The warm pool and start stages on both backends, with the test playing the room agents.

(tests/runtime/test_warm_pool_local.py does the same with real browsers.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from controlplane.models import RoomStage
from controlplane.runtime.base import RuntimeInfo, RuntimeUnavailable
from tests.support.rooms import (
    Live,
    RecordingRuntime,
    Socket,
    Started,
    agent_socket,
    create_room,
    live_server,
    room_socket,
)
from tests.support.users import make_superuser, signed_in
from tests.support.waits import eventually


async def warm_agents(live: Live, count: int) -> dict[str, Socket]:
    """Play the agents of the first `count` warm browsers: connect, say ready."""
    started = await eventually(lambda: len(live.runtime.started) >= count and live.runtime.started)
    agents = {}
    for code, s in list(started.items())[:count]:
        assert s.start_url is None  # a warm browser gets its page when it is handed out
        sock = await agent_socket(live.agent_ws_url, s)
        assert sock.of_type("auth.ok")[-1]["data"]["pooled"] is True
        await sock.send("ready", {"width": 1280, "height": 720, "fps": 30, "codec": "h264"})
        agents[code] = sock
    return agents


async def pool_size(live: Live, headers: dict[str, str]) -> dict[str, int]:
    resp = await live.http.get("/api/admin/pool", headers=headers)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def pool_reaches(live: Live, headers: dict[str, str], want: dict[str, int]) -> None:
    for _ in range(100):
        if await pool_size(live, headers) == want:
            return
        await asyncio.sleep(0.05)
    assert await pool_size(live, headers) == want


async def test_new_room_takes_a_ready_warm_browser_and_the_pool_refills(settings_factory):
    settings = await settings_factory(ROOM_WARM_POOL=2, ROOM_MAX_LIVE=1)
    async with live_server(settings) as live:
        agents = await warm_agents(live, 2)
        admin = await signed_in(live.http)
        await make_superuser(settings.database_url, admin.id)
        await pool_reaches(live, admin.headers, {"target": 2, "ready": 2, "starting": 0})
        # Warm browsers are nobody's room: not found by code, not listed, not counted.
        oldest = next(iter(agents))
        assert (
            await live.http.get(f"/api/rooms/{oldest}", headers=admin.headers)
        ).status_code == 404
        listing = (await live.http.get("/api/admin/rooms", headers=admin.headers)).json()
        assert listing["count"] == 0

        host = await signed_in(live.http)
        room = await create_room(
            live.http,
            host.headers,
            title="Film club",
            start_url="https://example.com/",
            block_ads=False,
        )
        # Live at once: the oldest warm browser, ready, with its new host and title.
        assert room["code"] == oldest
        assert (room["status"], room["stage"]) == ("ready", "ready")
        assert room["host_id"] == host.id and room["title"] == "Film club"
        assigned = await agents[oldest].expect("room.assigned")
        assert assigned["data"] == {
            "start_url": "https://example.com/",
            "holder_id": host.id,
            "block_ads": False,  # the creator's choice, which the warm browser did not know
            "keep_profile": False,
        }
        # The other warm browser is told nothing.
        other = next(code for code in agents if code != oldest)
        await asyncio.sleep(0.3)
        assert "room.assigned" not in agents[other].types()

        sock = await room_socket(live.ws_url, room["code"], host.access_token)
        state = sock.of_type("room.state")[-1]["data"]
        assert state["room"]["status"] == "ready" and state["room"]["stage"] == "ready"
        assert state["agent_connected"] is True
        assert state["remote"]["holder_id"] == host.id
        assert [p["user_id"] for p in state["participants"]] == [host.id]

        # The pool refills in the background: a third browser is started, warm again.
        await eventually(lambda: len(live.runtime.started) == 3)
        third = list(live.runtime.started.values())[2]
        assert third.start_url is None
        new_agent = await agent_socket(live.agent_ws_url, third)
        await new_agent.send("ready", {})
        await pool_reaches(live, admin.headers, {"target": 2, "ready": 2, "starting": 0})

        # The warm pool sits on top of ROOM_MAX_LIVE: one user room is the limit here.
        resp = await live.http.post("/api/rooms", json={"title": "two"}, headers=admin.headers)
        assert resp.status_code == 503 and resp.json()["code"] == "capacity"

        # An agent that reconnects after its room was claimed learns it from auth.ok.
        await agents[oldest].close()
        again = await agent_socket(live.agent_ws_url, live.runtime.started[oldest])
        ok = again.of_type("auth.ok")[-1]["data"]
        assert ok["pooled"] is False and ok["start_url"] == "https://example.com/"
        assert ok["holder_id"] == host.id
        for s in [sock, again, new_agent, *agents.values()]:
            await s.close()


async def test_warm_browser_without_its_agent_is_skipped(settings_factory):
    settings = await settings_factory(ROOM_WARM_POOL=1)
    async with live_server(settings) as live:
        agents = await warm_agents(live, 1)
        (code,) = agents
        await agents[code].close()  # ready in the database, but its agent is gone
        presence = live.app.state.ctx.presence
        room_id = str(live.runtime.started[code].room_id)

        async def agent_gone() -> bool:
            return await presence.agent(room_id) is None

        # once the server has handled the close, however long a busy box takes
        await eventually(agent_gone, what="the warm browser's agent seen gone")
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers, start_url="https://example.com/")
        # A cold start instead: a new browser with the start URL on its command line.
        assert room["code"] != code and room["status"] == "starting"
        assert room["stage"] == "scheduling"
        assert live.runtime.started[room["code"]].start_url == "https://example.com/"


class StagedRuntime(RecordingRuntime):
    """A runtime whose rooms sit in a stage, or fail with a reason, as a pod would."""

    def __init__(self, info: Callable[[str], RuntimeInfo]) -> None:
        super().__init__()
        self.info = info

    async def status(self, *, runtime_ref: str) -> RuntimeInfo:
        return self.info(runtime_ref)


def starting(stage: RoomStage) -> Callable[[str], RuntimeInfo]:
    """A start the runtime reports at `stage` (a pod waiting for a node, pulling its image)."""
    return lambda ref: RuntimeInfo(ref, None, "starting", stage.value, stage)


async def test_start_stages_reach_the_room_and_its_state(settings_factory):
    settings = await settings_factory()
    runtime = StagedRuntime(starting(RoomStage.scheduling))
    async with live_server(settings, runtime=runtime) as live:
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        assert (room["status"], room["stage"]) == ("starting", "scheduling")
        sock = await room_socket(live.ws_url, room["code"], host.access_token)
        assert sock.of_type("room.state")[-1]["data"]["room"]["stage"] == "scheduling"

        runtime.info = starting(RoomStage.booting)  # node chosen
        await sock.expect("room.status", status="starting", stage="booting", within=5)
        got = await live.http.get(f"/api/rooms/{room['code']}", headers=host.headers)
        assert got.json()["stage"] == "booting"

        agent = await agent_socket(live.agent_ws_url, live.runtime.started[room["code"]])
        await agent.send("stage", {"stage": "browser_ready"})
        await sock.expect("room.status", stage="browser_ready")
        late = await room_socket(live.ws_url, room["code"], host.access_token)
        assert late.of_type("room.state")[-1]["data"]["room"]["stage"] == "browser_ready"
        await agent.send("ready", {"width": 1280, "height": 720, "fps": 30, "codec": "h264"})
        await sock.expect("room.status", status="ready", stage="ready")
        got = await live.http.get(f"/api/rooms/{room['code']}", headers=host.headers)
        assert (got.json()["status"], got.json()["stage"]) == ("ready", "ready")
        # A stage arriving after ready (a reconnecting agent) does not move the room back.
        await agent.send("stage", {"stage": "booting"})
        await asyncio.sleep(0.3)
        got = await live.http.get(f"/api/rooms/{room['code']}", headers=host.headers)
        assert got.json()["stage"] == "ready"
        for s in (sock, late, agent):
            await s.close()


async def test_a_start_the_runtime_reports_failed_fails_the_room_with_its_reason(
    settings_factory,
):
    settings = await settings_factory()
    why = 'ErrImagePull: image "watchparty/browser:nope" not found'
    runtime = StagedRuntime(starting(RoomStage.scheduling))
    async with live_server(settings, runtime=runtime) as live:
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        sock = await room_socket(live.ws_url, room["code"], host.access_token)
        # Scheduled on a node (booting), then the image pull fails: still caught.
        runtime.info = starting(RoomStage.booting)
        await sock.expect("room.status", stage="booting", within=5)
        runtime.info = lambda ref: RuntimeInfo(ref, None, "failed", why)
        failed = await sock.expect("room.status", status="failed", within=5)
        assert failed["data"]["reason"] == f"The room's browser stopped: {why}"
        got = (await live.http.get(f"/api/rooms/{room['code']}", headers=host.headers)).json()
        assert got["status"] == "failed" and why in got["status_reason"]
        assert live.runtime.stopped == [f"test-{room['code']}"]  # nothing left running
        await sock.close()


async def test_a_browser_that_vanishes_before_it_is_ready_fails_the_room(
    settings_factory, monkeypatch: pytest.MonkeyPatch
):
    from controlplane.rooms import browser_gone

    # The grace itself is the policy's unit test (tests/unit/test_browser_gone.py); here the
    # path from a runtime saying "missing" to a failed room, with 1 s of it instead of 15.
    monkeypatch.setattr(browser_gone, "LAUNCH_GRACE", timedelta(seconds=1))
    settings = await settings_factory()
    runtime = StagedRuntime(lambda ref: RuntimeInfo(ref, None, "running"))
    async with live_server(settings, runtime=runtime) as live:
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        sock = await room_socket(live.ws_url, room["code"], host.access_token)
        await sock.expect("room.status", stage="booting", within=5)
        runtime.info = lambda ref: RuntimeInfo(ref, None, "missing")  # the process died
        # Missing counts once the room is rooms.browser_gone.LAUNCH_GRACE old.
        failed = await sock.expect("room.status", status="failed", within=25)
        assert failed["data"]["reason"] == "The room's browser stopped"
        await sock.close()


class BrokenRuntime(RecordingRuntime):
    async def start(self, **kw: Any) -> str:
        self.started[kw["room_code"]] = Started(
            kw["room_id"], kw["room_code"], kw["agent_secret"], kw["start_url"]
        )
        raise RuntimeUnavailable("the Docker engine is not reachable")


async def test_pool_backs_off_when_its_browsers_fail_to_start(settings_factory):
    from controlplane.rooms import warm_pool

    settings = await settings_factory(ROOM_WARM_POOL=3)
    runtime = BrokenRuntime()
    async with live_server(settings, runtime=runtime) as live:
        # The start-up fill tried once, failed, and stopped (not three failures).
        await eventually(lambda: len(runtime.started) >= 1)
        await asyncio.sleep(0.5)
        assert len(runtime.started) == 1
        # Later fills (each sweep, each claim) wait out the back-off instead of failing again.
        assert await warm_pool.fill(ctx=live.app.state.ctx) == []
        assert len(runtime.started) == 1
        # Users still get rooms (cold, here failing with the runtime's reason).
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        assert room["status"] == "failed"
        assert room["status_reason"] == "the Docker engine is not reachable"
        assert uuid.UUID(room["id"])


async def test_sweep_replaces_a_warm_browser_that_stopped_responding(settings_factory):

    from controlplane.models import utcnow
    from controlplane.reaper.sweep import sweep

    settings = await settings_factory(ROOM_WARM_POOL=1, REAPER_INTERVAL_SECONDS=3600)
    async with live_server(settings) as live:
        (code,) = await warm_agents(live, 1)
        admin = await signed_in(live.http)
        await make_superuser(settings.database_url, admin.id)
        await pool_reaches(live, admin.headers, {"target": 1, "ready": 1, "starting": 0})
        # Hours later nobody has used it: it is not "idle". Its heartbeats stopped, though.
        report = await sweep(ctx=live.app.state.ctx, now=utcnow() + timedelta(minutes=3))
        assert report.ended == [] and report.failed == [code]
        assert len(report.warm_started) == 1 and report.warm_started[0] != code
        assert f"test-{code}" in live.runtime.stopped
        await pool_reaches(live, admin.headers, {"target": 1, "ready": 0, "starting": 1})


async def test_pool_set_to_zero_is_emptied_and_a_claimed_browser_is_never_recycled(
    settings_factory,
):
    from sqlalchemy import select

    from controlplane.models import Room
    from controlplane.reaper.sweep import sweep
    from controlplane.rooms.ending import claim_end
    from controlplane.rooms.launch import fail_room

    settings = await settings_factory(ROOM_WARM_POOL=2, REAPER_INTERVAL_SECONDS=3600)
    async with live_server(settings) as live:
        ctx = live.app.state.ctx
        agents = await warm_agents(live, 2)
        admin = await signed_in(live.http)
        await make_superuser(settings.database_url, admin.id)
        await pool_reaches(live, admin.headers, {"target": 2, "ready": 2, "starting": 0})
        first, second = agents
        async with ctx.sessionmaker() as s:
            stale = (await s.execute(select(Room).where(Room.room_code == first))).scalar_one()
        # A user is given the first warm browser after a sweep took its snapshot...
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        assert room["code"] == first
        # ...so recycling it (as a warm browser) from that snapshot does nothing.
        async with ctx.sessionmaker() as s:
            row = await s.get(Room, stale.id)
            assert row is not None
            assert not await claim_end(
                ctx=ctx, session=s, room=row, reason="warm pool surplus", only_pooled=True
            )
        async with ctx.sessionmaker() as s:
            assert not await fail_room(ctx=ctx, session=s, room=stale, reason="x", only_pooled=True)
        got = await live.http.get(f"/api/rooms/{first}", headers=host.headers)
        assert got.json()["status"] == "ready"

        # The operator turns the pool off: the next sweep ends the warm browsers left.
        ctx.settings = ctx.settings.model_copy(update={"ROOM_WARM_POOL": 0})
        await sweep(ctx=ctx)
        await pool_reaches(live, admin.headers, {"target": 0, "ready": 0, "starting": 0})
        assert f"test-{second}" in live.runtime.stopped
        assert f"test-{first}" not in live.runtime.stopped  # the user's room lives on
        for sock in agents.values():
            await sock.close()


def gauge(text: str, name: str, label: str) -> float:
    """The value of one labelled sample in Prometheus text format."""
    for line in text.splitlines():
        if line.startswith(f"{name}{{{label}}} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name}{{{label}}} in /metrics")


async def test_metrics_count_rooms_pool_and_sockets(settings_factory):
    settings = await settings_factory(ROOM_WARM_POOL=2)
    async with live_server(settings) as live:
        agents = await warm_agents(live, 2)
        admin = await signed_in(live.http)
        await make_superuser(settings.database_url, admin.id)
        await pool_reaches(live, admin.headers, {"target": 2, "ready": 2, "starting": 0})
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)  # from the pool: ready at once
        sock = await room_socket(live.ws_url, room["code"], host.access_token)
        text = (await live.http.get("/metrics")).text
        assert gauge(text, "watchparty_rooms", 'status="ready"') == 1
        assert gauge(text, "watchparty_rooms", 'status="starting"') == 0
        assert gauge(text, "watchparty_warm_pool", 'state="target"') == 2
        # the claimed browser left the pool; its replacement is starting (no agent here)
        assert gauge(text, "watchparty_warm_pool", 'state="ready"') == 1
        assert gauge(text, "watchparty_sockets", 'kind="room"') == 1
        assert gauge(text, "watchparty_sockets", 'kind="agent"') == 2
        await sock.close()
        for a in agents.values():
            await a.close()


async def test_a_failed_starts_logs_reach_the_operators_log_not_the_members(
    settings_factory, caplog
):
    """Issue 11 #9: members get the reason in words; the container's output goes to the log."""
    import logging

    caplog.set_level(logging.WARNING)
    settings = await settings_factory()
    runtime = StagedRuntime(starting(RoomStage.scheduling))
    async with live_server(settings, runtime=runtime) as live:
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        sock = await room_socket(live.ws_url, room["code"], host.access_token)
        runtime.info = lambda ref: RuntimeInfo(
            ref, None, "failed", "container exited with code 1", logs="DATABASE_URL=postgres://x"
        )
        failed = await sock.expect("room.status", status="failed", within=5)
        assert failed["data"]["reason"] == (
            "The room's browser stopped: container exited with code 1"
        )
        got = (await live.http.get(f"/api/rooms/{room['code']}", headers=host.headers)).json()
        assert "DATABASE_URL" not in got["status_reason"]
        logged = [r for r in caplog.records if r.getMessage() == "room browser failed to start"]
        assert logged and getattr(logged[0], "logs", None) == "DATABASE_URL=postgres://x"
        await sock.close()
