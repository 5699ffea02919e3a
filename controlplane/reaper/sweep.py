"""One reaper sweep: end idle and over-age rooms, fail lost ones, remove orphans.

Per room: observe (its row, presence, the runtime) -> judge (pure, `policy.py`) -> act. Its SQL
is in `rooms/queries.py`.

Idempotent and safe to run on two workers at once: every state change is a conditional update
that only one of them wins, and runtime `stop` tolerates what is already gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text

from controlplane.context import AppContext
from controlplane.models import Room, RoomStatus, utcnow
from controlplane.reaper.policy import (
    OutageClock,
    Policy,
    RoomView,
    Verdict,
    after_outage,
    ends_at,
    fail_reason,
    judge,
    orphans,
    stuck_ending,
)
from controlplane.rooms import queries, warm_pool
from controlplane.rooms.ending import claim_end, finish_end, finish_stuck_end
from controlplane.rooms.launch import fail_room
from controlplane.runtime.base import RuntimeInfo
from controlplane.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    ended: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    warm_started: list[str] = field(default_factory=list)

    def anything(self) -> bool:
        return any((self.ended, self.failed, self.warned, self.orphans_removed, self.warm_started))

    def log_fields(self) -> dict[str, list[str]]:
        return {
            "ended": self.ended,
            "failed": self.failed,
            "warned": self.warned,
            "orphans": self.orphans_removed,
            "warm_started": self.warm_started,
        }


def policy_from(settings: Settings) -> Policy:
    return Policy(
        idle=timedelta(minutes=settings.ROOM_IDLE_MINUTES),
        max_age=timedelta(hours=settings.ROOM_MAX_HOURS),
        warning=timedelta(seconds=settings.ROOM_MAX_AGE_WARNING_SECONDS),
        heartbeat_timeout=timedelta(seconds=settings.ROOM_HEARTBEAT_TIMEOUT_SECONDS),
        start_timeout=timedelta(seconds=settings.ROOM_START_TIMEOUT_SECONDS),
    )


async def probe_dependencies(ctx: AppContext) -> None:
    """Raise unless the database and Redis (when there is one) answer now."""
    async with ctx.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    if ctx.redis is not None:
        await ctx.redis.ping()


async def sweep(
    *, ctx: AppContext, now: datetime | None = None, outages: OutageClock | None = None
) -> SweepReport:
    """One sweep. `outages` is the sweeping process's clock of its dependencies' outages, kept
    from one sweep to the next (`loop.run_forever`, the Celery worker): while they are down
    nothing is done, and for a heartbeat timeout after they return the verdicts an outage fakes
    are held (`policy.after_outage`). An outage that falls between two sweeps is not seen, but
    it is then shorter than REAPER_INTERVAL_SECONDS, which, with the heartbeat and presence
    renewals (10 s), is well under the heartbeat timeout it would have to exceed.

    Each room goes through three phases: observe (its row, presence, the runtime's word),
    judge (pure: `policy.judge`, held after an outage) and act (end, fail or warn it). Every
    action opens its own database session (docs/architecture.md, "Who owns a database
    session"), so one room's failure leaves the others' sweep whole."""
    now = now or utcnow()
    outages = outages if outages is not None else OutageClock()
    report = SweepReport()
    try:
        await probe_dependencies(ctx)
    except Exception as exc:
        # Acting on half a view is how healthy rooms get failed: skip, and remember the outage.
        outages.saw_down()
        log.warning("reaper sweep skipped: a dependency is down", extra={"error": repr(exc)})
        return report
    outages.saw_up(now)
    policy = policy_from(ctx.settings)
    async with ctx.sessionmaker() as session:
        rooms = await queries.rooms_to_judge(session=session)
    for room in rooms:
        view = await observe(ctx, room, now=now)
        verdict = after_outage(
            judge(view, now=now, policy=policy),
            now=now,
            recovered_at=outages.recovered_at,
            grace=policy.heartbeat_timeout,
        )
        try:
            await act(ctx, room, view, verdict, now=now, policy=policy, report=report)
        except Exception:
            log.exception(
                "reaper action failed", extra={"room": room.room_code, "verdict": verdict.value}
            )
    await finish_stuck_ends(ctx, now=now, report=report)
    await remove_orphans(ctx, report=report)
    try:
        # Replaces warm browsers that failed or were recycled above, and ends the surplus (all
        # of them when ROOM_WARM_POOL went to 0). No start watcher: this may run in a short-lived
        # worker loop (the start timeout covers it).
        report.warm_started = await warm_pool.fill(ctx=ctx, watch=False)
    except Exception:
        log.exception("warm pool refill failed")
    if report.anything():
        log.info("reaper sweep", extra=report.log_fields())
    return report


# ---------------------------------------------------------------- observe


async def observe(ctx: AppContext, room: Room, *, now: datetime) -> RoomView:
    """What the reaper judges a room by: its row, who is in it (presence, after the sockets of
    crashed API processes are forgotten) and the runtime's word. Someone in the room restarts
    its idle clock from `now` (written, and in `room`)."""
    try:
        # Sockets held by an API process that crashed would keep the room "occupied" forever.
        await ctx.liveness.reap_dead_instances(str(room.id))
    except Exception:
        log.exception("presence cleanup failed", extra={"room": room.room_code})
    online = len(await ctx.presence.online(str(room.id)))
    if online:
        async with ctx.sessionmaker() as session:
            await queries.touch(session=session, room_id=room.id, at=now)
        room.last_active_at = now
    info = await _runtime_info(ctx, room)
    return RoomView(
        room_id=room.id,
        status=RoomStatus(room.status),
        created_at=room.created_at,
        last_active_at=room.last_active_at,
        online=online,
        agent_seen_at=room.agent_seen_at,
        runtime_state=info.state if info is not None else None,
        runtime_detail=info.detail if info is not None else None,
        pooled=room.pooled,
    )


async def _runtime_info(ctx: AppContext, room: Room) -> RuntimeInfo | None:
    if not room.runtime_ref:
        return None
    try:
        return await ctx.runtime.status(runtime_ref=room.runtime_ref)
    except Exception:
        log.exception("runtime status failed", extra={"room": room.room_code})
        return None


# ---------------------------------------------------------------- act

_ENDS = (Verdict.end_idle, Verdict.end_max_age, Verdict.end_failed)
_FAILS = (Verdict.fail_agent_lost, Verdict.fail_runtime_gone, Verdict.fail_start_timeout)


async def act(
    ctx: AppContext,
    room: Room,
    view: RoomView,
    verdict: Verdict,
    *,
    now: datetime,
    policy: Policy,
    report: SweepReport,
) -> None:
    """Carry out the verdict on the room, each change a compare-and-set that one sweeper wins;
    what this sweep did goes into `report`."""
    if verdict in _ENDS:
        async with ctx.sessionmaker() as session:
            fresh = await session.get(Room, room.id)
            # A warm browser is recycled only if nobody was given it since the snapshot.
            if fresh is not None and await claim_end(
                ctx=ctx, session=session, room=fresh, reason=verdict.value, only_pooled=room.pooled
            ):
                await finish_end(
                    ctx=ctx, session=session, room=fresh, by=None, reason=verdict.value
                )
                report.ended.append(room.room_code)
    elif verdict in _FAILS:
        reason = fail_reason(view, verdict, now=now)
        async with ctx.sessionmaker() as session:
            failed = await fail_room(
                ctx=ctx, session=session, room=room, reason=reason, only_pooled=room.pooled
            )
        if failed:
            report.failed.append(room.room_code)
    elif verdict is Verdict.warn_max_age:
        if await _warn_once(ctx, room, ends_at(view, policy=policy)):
            report.warned.append(room.room_code)


async def _warn_once(ctx: AppContext, room: Room, at: datetime) -> bool:
    # "At most once per room": the rate limiter's first hit in a window is exactly that, and it
    # is atomic across workers (Redis) or processes' tasks (in-process).
    key = f"reaper:warned:{room.id}"
    if await ctx.rate_limiter.hit(key, limit=1, window_s=6 * 3600) is not None:
        return False
    seconds = max(0, int((at - utcnow()).total_seconds()))
    await ctx.events.warned(room.id, ends_at=at, seconds_left=seconds)
    log.info("room warned", extra={"room": room.room_code, "ends_at": at.isoformat()})
    return True


async def finish_stuck_ends(ctx: AppContext, *, now: datetime, report: SweepReport) -> None:
    """Finish the ends a crashed ender left in `ending`."""
    async with ctx.sessionmaker() as session:
        ending = await queries.ending_rooms(session=session)
    for room in ending:
        if not stuck_ending(status=RoomStatus(room.status), ending_since=room.ended_at, now=now):
            continue
        try:
            async with ctx.sessionmaker() as session:
                if await finish_stuck_end(ctx=ctx, session=session, room=room):
                    report.ended.append(room.room_code)
        except Exception:
            log.exception("finishing an interrupted end failed", extra={"room": room.room_code})


async def remove_orphans(ctx: AppContext, *, report: SweepReport) -> None:
    """Stop what the runtime runs for rooms that are not live (or not ours any more)."""
    # List the runtime first: a room's row is committed before its runtime starts, so anything
    # listed here is already visible to the query below (no fresh room is mistaken for an orphan).
    try:
        managed = await ctx.runtime.list_managed()
    except Exception:
        log.exception("listing managed rooms failed")
        managed = []
    async with ctx.sessionmaker() as session:
        live = await queries.live_room_ids(session=session)
    for info in orphans(managed, live):
        try:
            await ctx.runtime.stop(runtime_ref=info.runtime_ref)
            report.orphans_removed.append(info.runtime_ref)
            log.warning(
                "orphan removed",
                extra={"runtime_ref": info.runtime_ref, "room_id": str(info.room_id)},
            )
        except Exception:
            log.exception("orphan removal failed", extra={"runtime_ref": info.runtime_ref})
