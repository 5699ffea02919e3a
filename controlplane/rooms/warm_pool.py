"""The warm pool (ROOM_WARM_POOL=N): browsers started before anyone asks, handed to new rooms.

A warm browser is a room row with `pooled` set and no host: its runtime, agent channel, secret,
heartbeats and reaper rules are those of any room, so nothing downstream needs a second path.
Claiming one is a single conditional UPDATE (`pooled` → false), so two replicas creating rooms
at once never get the same browser. The agent is then told `room.assigned` (and sees the same in
`auth.ok` if it reconnects meanwhile); it wipes the browsing data and loads the start URL.

Filling is best effort from anywhere (API start-up, after each claim, every reaper sweep):
replicas racing may start one too many, and the next fill ends the surplus.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from controlplane.context import AppContext
from controlplane.models import LIVE_STATUSES, Room, RoomParticipant, RoomStatus, User
from controlplane.models.types import utcnow
from controlplane.rooms.ending import claim_end, finish_end
from controlplane.rooms.launch import RoomChoices, insert_room, start_runtime
from controlplane.rooms.queries import rowcount
from controlplane.rooms.start_watch import spawn_watch

log = logging.getLogger(__name__)

POOL_TITLE = "warm browser"
# After a warm browser failed to start (not: died after being ready), wait this long before
# starting more: a broken runtime would otherwise fail N browsers at every sweep.
FAILURE_BACKOFF = timedelta(minutes=5)
CANDIDATES = 5


def _pooled_live() -> ColumnElement[bool]:
    return and_(col(Room.pooled) == True, col(Room.status).in_(LIVE_STATUSES))  # noqa: E712


async def claim(
    *,
    ctx: AppContext,
    session: AsyncSession,
    user: User,
    title: str,
    max_participants: int,
    start_url: str | None,
    choices: RoomChoices | None = None,
) -> Room | None:
    """Turn a ready warm browser into the user's new room, or None when none is ready. A warm
    browser never had anyone's profile (it is loaded only once the browser is a room's, after
    the wipe), and a room's browser never goes back to the pool: it ends with its room."""
    if not ctx.settings.ROOM_WARM_POOL:
        return None
    candidates = (
        await session.execute(
            select(col(Room.id))
            .where(col(Room.pooled) == True, col(Room.status) == RoomStatus.ready)  # noqa: E712
            .order_by(col(Room.created_at))
            .limit(CANDIDATES)
        )
    ).scalars()
    for room_id in list(candidates):
        # Ready in the database but its agent gone (a crash not yet swept): not live in a second.
        if await ctx.presence.agent(str(room_id)) is None:
            continue
        now = utcnow()
        won = await session.execute(
            update(Room)
            .where(
                col(Room.id) == room_id,
                col(Room.pooled) == True,  # noqa: E712
                col(Room.status) == RoomStatus.ready,
            )
            .values(
                pooled=False,
                host_id=user.id,
                title=title,
                max_participants=max_participants,
                start_url=start_url,
                # The room's life (idle clock, maximum age) starts now, not when it was warmed.
                created_at=now,
                last_active_at=now,
                **(choices or RoomChoices()).columns(),
            )
        )
        if not rowcount(won):
            await session.rollback()
            continue
        session.add(RoomParticipant(room_id=room_id, user_id=user.id, is_host=True))
        await session.commit()
        room = await session.get(Room, room_id)
        assert room is not None
        log.info(
            "room created from the warm pool",
            extra={"room": room.room_code, "user_id": str(user.id)},
        )
        await ctx.events.room_assigned(
            room.id, start_url=room.start_url, keep=room.keep_profile, block_ads=room.block_ads
        )
        ctx.spawn(fill(ctx=ctx), name="warm-pool-fill")
        return room
    return None


async def fill(*, ctx: AppContext, watch: bool = True) -> list[str]:
    """Start warm browsers until the pool has ROOM_WARM_POOL of them; end any surplus. Returns
    the codes of the browsers started."""
    if ctx.runtime.name == "none":
        return []
    async with ctx.pool_lock:
        return await _fill(ctx, watch=watch)


async def _fill(ctx: AppContext, *, watch: bool) -> list[str]:
    target = ctx.settings.ROOM_WARM_POOL
    async with ctx.sessionmaker() as session:
        pooled = list(
            (
                await session.execute(
                    select(Room).where(_pooled_live()).order_by(col(Room.created_at))
                )
            ).scalars()
        )
        surplus = pooled[target:]
        for room in reversed(surplus):  # the newest first: the oldest are the readiest
            reason = "warm pool surplus"
            if await claim_end(
                ctx=ctx, session=session, room=room, reason=reason, only_pooled=True
            ):
                await finish_end(ctx=ctx, session=session, room=room, by=None, reason=reason)
        missing = target - len(pooled)
        if missing <= 0:
            return []
        recent_failure = (
            await session.execute(
                select(col(Room.id))
                .where(
                    col(Room.pooled) == True,  # noqa: E712
                    col(Room.status) == RoomStatus.failed,
                    col(Room.ended_at) >= utcnow() - FAILURE_BACKOFF,
                    # never became ready: a failed start, not a browser that died later
                    col(Room.agent_seen_at).is_(None),
                )
                .limit(1)
            )
        ).scalar_one_or_none()
        if recent_failure is not None:
            log.warning("warm pool not refilled: a warm browser failed recently")
            return []
        started = []
        for _ in range(missing):
            room, secret = await insert_room(
                session=session,
                settings=ctx.settings,
                host_id=None,
                title=POOL_TITLE,
                max_participants=ctx.settings.ROOM_MAX_PARTICIPANTS,
                start_url=None,
            )
            await start_runtime(ctx=ctx, session=session, room=room, agent_secret=secret)
            if watch:
                spawn_watch(ctx=ctx, room=room)
            if room.status == RoomStatus.failed:
                break
            started.append(room.room_code)
    if started:
        log.info("warm pool filled", extra={"started": started, "target": target})
    return started


async def size(*, ctx: AppContext) -> dict[str, int]:
    """How many warm browsers are ready and how many are still starting (for admins)."""
    async with ctx.sessionmaker() as session:
        statuses = list(
            (await session.execute(select(col(Room.status)).where(_pooled_live()))).scalars()
        )
    ready = sum(1 for s in statuses if s == RoomStatus.ready)
    return {
        "target": ctx.settings.ROOM_WARM_POOL,
        "ready": ready,
        "starting": len(statuses) - ready,
    }
