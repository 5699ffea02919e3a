"""One reaper sweep: end idle and over-age rooms, fail lost ones, remove orphans.

Idempotent and safe to run on two workers at once: every state change is a conditional update
that only one of them wins, and runtime `stop` tolerates what is already gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlmodel import col

from controlplane.context import AppContext
from controlplane.models import LIVE_STATUSES, Room, RoomStatus, utcnow
from controlplane.reaper.policy import (
    REASONS,
    OutageClock,
    Policy,
    RoomView,
    Verdict,
    after_outage,
    ends_at,
    judge,
    orphans,
    stuck_ending,
)
from controlplane.rooms import warm_pool
from controlplane.rooms.ending import claim_end, finish_end, finish_stuck_end
from controlplane.rooms.launch import fail_room
from controlplane.runtime.base import RuntimeState
from controlplane.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    ended: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    warm_started: list[str] = field(default_factory=list)


def policy_from(settings: Settings) -> Policy:
    return Policy(
        idle=timedelta(minutes=settings.ROOM_IDLE_MINUTES),
        max_age=timedelta(hours=settings.ROOM_MAX_HOURS),
        warning=timedelta(seconds=settings.ROOM_MAX_AGE_WARNING_SECONDS),
        heartbeat_timeout=timedelta(seconds=settings.ROOM_HEARTBEAT_TIMEOUT_SECONDS),
        start_timeout=timedelta(seconds=settings.ROOM_START_TIMEOUT_SECONDS),
    )


async def _runtime_state(ctx: AppContext, room: Room) -> RuntimeState | None:
    if not room.runtime_ref:
        return None
    try:
        return (await ctx.runtime.status(runtime_ref=room.runtime_ref)).state
    except Exception:
        log.exception("runtime status failed", extra={"room": room.room_code})
        return None


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
    renewals (10 s), is well under the heartbeat timeout it would have to exceed."""
    now = now or utcnow()
    outages = outages if outages is not None else OutageClock()
    policy = policy_from(ctx.settings)
    report = SweepReport()
    try:
        await probe_dependencies(ctx)
    except Exception as exc:
        # Acting on half a view is how healthy rooms get failed: skip, and remember the outage.
        outages.saw_down()
        log.warning("reaper sweep skipped: a dependency is down", extra={"error": repr(exc)})
        return report
    outages.saw_up(now)
    async with ctx.sessionmaker() as session:
        rooms = list(
            (
                await session.execute(
                    select(Room).where(col(Room.status).in_((*LIVE_STATUSES, RoomStatus.failed)))
                )
            ).scalars()
        )
    for room in rooms:
        try:
            # Sockets held by an API process that crashed would keep the room "occupied" forever.
            await ctx.hub.reap_dead_instances(str(room.id))
        except Exception:
            log.exception("presence cleanup failed", extra={"room": room.room_code})
        online = len(await ctx.presence.online(str(room.id)))
        if online:
            # Someone is here: the idle clock restarts from now.
            async with ctx.sessionmaker() as session:
                await session.execute(
                    update(Room).where(col(Room.id) == room.id).values(last_active_at=now)
                )
                await session.commit()
            room.last_active_at = now
        view = RoomView(
            room_id=room.id,
            status=RoomStatus(room.status),
            created_at=room.created_at,
            last_active_at=room.last_active_at,
            online=online,
            agent_seen_at=room.agent_seen_at,
            runtime_state=await _runtime_state(ctx, room),
            pooled=room.pooled,
        )
        verdict = after_outage(
            judge(view, now=now, policy=policy),
            now=now,
            recovered_at=outages.recovered_at,
            grace=policy.heartbeat_timeout,
        )
        try:
            if verdict in (Verdict.end_idle, Verdict.end_max_age, Verdict.end_failed):
                async with ctx.sessionmaker() as session:
                    fresh = await session.get(Room, room.id)
                    # A warm browser is recycled only if nobody was given it since the snapshot.
                    if fresh is not None and await claim_end(
                        ctx=ctx,
                        session=session,
                        room=fresh,
                        reason=verdict.value,
                        only_pooled=room.pooled,
                    ):
                        await finish_end(
                            ctx=ctx, session=session, room=fresh, by=None, reason=verdict.value
                        )
                        report.ended.append(room.room_code)
            elif verdict in (
                Verdict.fail_agent_lost,
                Verdict.fail_runtime_gone,
                Verdict.fail_start_timeout,
            ):
                if await fail_room(
                    ctx=ctx, room=room, reason=REASONS[verdict], only_pooled=room.pooled
                ):
                    report.failed.append(room.room_code)
            elif verdict is Verdict.warn_max_age:
                if await _warn_once(ctx, room, ends_at(view, policy=policy)):
                    report.warned.append(room.room_code)
        except Exception:
            log.exception(
                "reaper action failed", extra={"room": room.room_code, "verdict": verdict.value}
            )

    async with ctx.sessionmaker() as session:
        ending = list(
            (
                await session.execute(select(Room).where(col(Room.status) == RoomStatus.ending))
            ).scalars()
        )
    for room in ending:
        if not stuck_ending(status=RoomStatus(room.status), ending_since=room.ended_at, now=now):
            continue
        try:
            if await finish_stuck_end(ctx=ctx, room=room):
                report.ended.append(room.room_code)
        except Exception:
            log.exception("finishing an interrupted end failed", extra={"room": room.room_code})

    # List the runtime first: a room's row is committed before its runtime starts, so anything
    # listed here is already visible to the query below (no fresh room is mistaken for an orphan).
    try:
        managed = await ctx.runtime.list_managed()
    except Exception:
        log.exception("listing managed rooms failed")
        managed = []
    async with ctx.sessionmaker() as session:
        live = set(
            (
                await session.execute(
                    select(col(Room.id)).where(col(Room.status).in_(LIVE_STATUSES))
                )
            ).scalars()
        )
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
    try:
        # Replaces warm browsers that failed or were recycled above, and ends the surplus (all
        # of them when ROOM_WARM_POOL went to 0). No start watcher: this may run in a short-lived
        # worker loop (the start timeout covers it).
        report.warm_started = await warm_pool.fill(ctx=ctx, watch=False)
    except Exception:
        log.exception("warm pool refill failed")
    if (
        report.ended
        or report.failed
        or report.warned
        or report.orphans_removed
        or report.warm_started
    ):
        log.info(
            "reaper sweep",
            extra={
                "ended": report.ended,
                "failed": report.failed,
                "warned": report.warned,
                "orphans": report.orphans_removed,
                "warm_started": report.warm_started,
            },
        )
    return report
