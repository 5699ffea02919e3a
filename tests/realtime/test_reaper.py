"""The reaper sweep on a live server, both backends: idle, max age with warning, lost agents,
vanished runtimes, orphans, and two sweeps at once. Times are moved by passing `now`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta

from controlplane.context import AppContext
from controlplane.models import Room, utcnow
from controlplane.reaper.sweep import sweep
from controlplane.runtime.base import RuntimeInfo
from controlplane.settings import Settings
from controlplane.wiring import build_context
from tests.support.backends import base_env
from tests.support.reaper import (
    ReaperRuntime,
    ctx_of,
    ready_room,
    reaper_live,
    room_row,
)
from tests.support.rooms import (
    Live,
    create_room,
    live_server,
)
from tests.support.users import signed_in
from tests.support.waits import eventually

__all__ = ["reaper_live"]  # a fixture: imported for pytest to find


async def test_idle_room_is_ended_and_its_runtime_stopped(reaper_live: Live):
    live, ctx = reaper_live, ctx_of(reaper_live)
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    created = (await room_row(ctx, room["code"])).created_at
    report = await sweep(ctx=ctx, now=created + timedelta(minutes=9))
    assert room["code"] not in report.ended
    report = await sweep(ctx=ctx, now=created + timedelta(minutes=10, seconds=1))
    assert report.ended == [room["code"]]
    assert live.runtime.stopped == [f"test-{room['code']}"]
    got = (await live.http.get(f"/api/rooms/{room['code']}", headers=host.headers)).json()
    assert got["status"] == "ended" and got["ended_at"]
    # Idempotent: nothing more happens on the next sweep.
    again = await sweep(ctx=ctx, now=created + timedelta(minutes=11))
    assert again.ended == [] and live.runtime.stopped == [f"test-{room['code']}"]


async def test_room_whose_browser_never_starts_fails(settings_factory):
    settings = await settings_factory(ROOM_START_TIMEOUT_SECONDS=60, REAPER_INTERVAL_SECONDS=3600)
    async with live_server(settings, runtime=ReaperRuntime()) as live:
        ctx = ctx_of(live)
        host = await signed_in(live.http)
        room = await create_room(live.http, host.headers)
        created = (await room_row(ctx, room["code"])).created_at
        assert (await sweep(ctx=ctx, now=created + timedelta(seconds=59))).failed == []
        assert (await sweep(ctx=ctx, now=created + timedelta(seconds=61))).failed == [room["code"]]
        got = (await live.http.get(f"/api/rooms/{room['code']}", headers=host.headers)).json()
        assert got["status"] == "failed"
        assert got["status_reason"] == "The room's browser did not start in time"


async def test_connected_room_is_not_idle_and_the_clock_restarts(settings_factory):
    settings = await settings_factory(
        ROOM_PRESENCE_GRACE_SECONDS=0.1,
        ROOM_HEARTBEAT_TIMEOUT_SECONDS=86400,
        REAPER_INTERVAL_SECONDS=3600,
    )
    async with live_server(settings, runtime=ReaperRuntime()) as live:
        ctx = ctx_of(live)
        room, viewer, _agent = await ready_room(live)
        created = (await room_row(ctx, room["code"])).created_at
        t1 = created + timedelta(minutes=30)
        assert (await sweep(ctx=ctx, now=t1)).ended == []
        assert (await room_row(ctx, room["code"])).last_active_at == t1
        await viewer.close()

        async def nobody_there() -> bool:
            return not await ctx.presence.online(str(room["id"]))

        # past the presence grace, once the server has handled the close (however late)
        await eventually(nobody_there, what="the closed viewer gone from presence")
        assert (await sweep(ctx=ctx, now=t1 + timedelta(minutes=9))).ended == []
        assert (await sweep(ctx=ctx, now=t1 + timedelta(minutes=10))).ended == [room["code"]]


async def test_max_age_warns_once_then_ends(reaper_live: Live):
    live, ctx = reaper_live, ctx_of(reaper_live)
    room, viewer, _agent = await ready_room(live)
    created = (await room_row(ctx, room["code"])).created_at
    # Keep the agent looking alive at the moved clock.
    await _seen(ctx, room["code"], created + timedelta(minutes=59))
    report = await sweep(ctx=ctx, now=created + timedelta(minutes=59, seconds=5))
    assert report.warned == [room["code"]]
    warning = await viewer.expect("room.warning")
    assert warning["data"]["code"] == "max_age"
    assert datetime.fromisoformat(warning["data"]["ends_at"]) == created + timedelta(hours=1)
    assert (await sweep(ctx=ctx, now=created + timedelta(minutes=59, seconds=30))).warned == []
    report = await sweep(ctx=ctx, now=created + timedelta(hours=1))
    assert report.ended == [room["code"]]
    ended = await viewer.expect("room.ended")
    assert ended["data"]["reason"] == "end_max_age"
    assert len(viewer.of_type("room.warning")) == 1


async def test_lost_agent_fails_the_room_and_tells_participants(reaper_live: Live):
    live, ctx = reaper_live, ctx_of(reaper_live)
    room, viewer, _agent = await ready_room(live)
    seen = (await room_row(ctx, room["code"])).agent_seen_at
    assert seen is not None
    assert (await sweep(ctx=ctx, now=seen + timedelta(seconds=119))).failed == []
    assert (await sweep(ctx=ctx, now=seen + timedelta(seconds=121))).failed == [room["code"]]
    status = await viewer.expect("room.status", status="failed")
    assert "stopped responding" in status["data"]["reason"]
    assert live.runtime.stopped == [f"test-{room['code']}"]
    row = await room_row(ctx, room["code"])
    assert row.status == "failed" and row.ended_at is not None


async def test_vanished_runtime_fails_the_room_without_waiting_for_heartbeats(reaper_live: Live):
    live, ctx = reaper_live, ctx_of(reaper_live)
    room, viewer, _agent = await ready_room(live)
    live.runtime.states[f"test-{room['code']}"] = "missing"
    created = (await room_row(ctx, room["code"])).created_at
    report = await sweep(ctx=ctx, now=created + timedelta(seconds=20))
    assert report.failed == [room["code"]]
    status = await viewer.expect("room.status", status="failed")
    assert status["data"]["reason"] == "The room's browser stopped"


async def test_orphans_are_removed_and_live_rooms_kept(reaper_live: Live):
    live, ctx = reaper_live, ctx_of(reaper_live)
    host = await signed_in(live.http)
    keep = await create_room(live.http, host.headers)
    gone = await create_room(live.http, host.headers)
    await live.http.post(f"/api/rooms/{gone['code']}/end", headers=host.headers)
    stray = uuid.uuid4()
    live.runtime.managed = [
        RuntimeInfo(
            runtime_ref=f"test-{keep['code']}", room_id=uuid.UUID(keep["id"]), state="running"
        ),
        RuntimeInfo(runtime_ref="test-ended", room_id=uuid.UUID(gone["id"]), state="running"),
        RuntimeInfo(runtime_ref="test-stray", room_id=stray, state="running"),
    ]
    report = await sweep(ctx=ctx)
    assert sorted(report.orphans_removed) == ["test-ended", "test-stray"]
    assert f"test-{keep['code']}" not in live.runtime.stopped


async def test_two_sweeps_at_once_end_a_room_once(reaper_live: Live, backend):
    live, ctx = reaper_live, ctx_of(reaper_live)
    room, viewer, _agent = await ready_room(live)
    created = (await room_row(ctx, room["code"])).created_at
    await _seen(ctx, room["code"], created + timedelta(minutes=59))
    # A second "worker": with Redis, a context of its own (as a Celery worker builds); embedded
    # mode has one process, so two concurrent sweeps share it.
    other = build_context(live.app_settings, runtime=live.runtime) if backend == "pg_redis" else ctx
    try:
        now = created + timedelta(hours=1, seconds=1)
        reports = await asyncio.gather(sweep(ctx=ctx, now=now), sweep(ctx=other, now=now))
    finally:
        if other is not ctx:
            await other.aclose()
    assert sum(r.ended.count(room["code"]) for r in reports) == 1
    assert live.runtime.stopped.count(f"test-{room['code']}") == 1
    await viewer.expect("room.ended")
    await asyncio.sleep(0.3)
    assert len(viewer.of_type("room.ended")) == 1


async def test_an_end_interrupted_by_a_crash_is_finished_once(reaper_live: Live, backend):
    from controlplane.rooms.ending import claim_end

    live, ctx = reaper_live, ctx_of(reaper_live)
    room, viewer, _agent = await ready_room(live)
    # An API process claimed the end, then died before telling anyone or stopping the browser.
    async with ctx.sessionmaker() as s:
        row = await s.get(Room, uuid.UUID(room["id"]))
        assert row is not None
        assert await claim_end(ctx=ctx, session=s, room=row, reason="ended by the host")
    report = await sweep(ctx=ctx)  # ending takes a moment: not stuck yet
    assert report.ended == [] and live.runtime.stopped == []
    other = build_context(live.app_settings, runtime=live.runtime) if backend == "pg_redis" else ctx
    try:
        later = utcnow() + timedelta(minutes=3)
        reports = await asyncio.gather(sweep(ctx=ctx, now=later), sweep(ctx=other, now=later))
    finally:
        if other is not ctx:
            await other.aclose()
    assert sum(r.ended.count(room["code"]) for r in reports) == 1
    assert live.runtime.stopped == [f"test-{room['code']}"]
    ended = await viewer.expect("room.ended")
    assert ended["data"]["reason"] == "ended by the host"
    row = await room_row(ctx, room["code"])
    assert (row.status, row.status_reason) == ("ended", "ended by the host")


async def _seen(ctx: AppContext, code: str, when: datetime) -> None:
    from sqlalchemy import update

    async with ctx.sessionmaker() as s:
        await s.execute(update(Room).where(Room.room_code == code).values(agent_seen_at=when))  # type: ignore[arg-type]
        await s.commit()


def test_celery_beat_and_worker_sweep_orphans(tmp_path):
    """Real Celery (beat + worker, Redis broker) with the real local runtime: a process carrying
    our labels but no live room is killed by the scheduled sweep."""
    from tests.support.backends import PG_URL, REDIS_URL

    asyncio.run(_prepare_pg())
    env = {
        **os.environ,
        **{
            k: str(v)
            for k, v in base_env(
                DATABASE_URL=PG_URL,
                REDIS_URL=REDIS_URL,
                ROOM_RUNTIME="local",
                REAPER_INTERVAL_SECONDS="1",
                DATA_DIR=str(tmp_path),
                DEPLOYMENT_ID="reaper-celery-test",
            ).items()
        },
    }
    orphan = subprocess.Popen(
        ["sleep", "300"],
        env={
            **os.environ,
            "WATCHPARTY_MANAGED_BY": "watchparty",
            "WATCHPARTY_DEPLOYMENT": "reaper-celery-test",
            "WP_ROOM_ID": str(uuid.uuid4()),
            "WATCHPARTY_RUNTIME_ROLE": "agent",
        },
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "controlplane.cli", cmd],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / f"{cmd}.log", "wb"),
        )
        for cmd in ("worker", "beat")
    ]
    try:
        deadline = time.monotonic() + 60
        while orphan.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        logs = "".join(
            (tmp_path / f"{c}.log").read_text(errors="replace")[-3000:] for c in ("worker", "beat")
        )
        assert orphan.poll() is not None, f"orphan survived the scheduled sweeps\n{logs}"
        assert "watchparty.reap" in logs
    finally:
        for p in (*procs, orphan):
            p.terminate()
        for p in (*procs, orphan):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


async def _prepare_pg() -> Settings:
    from tests.support.backends import pg_redis_settings

    return await pg_redis_settings()
