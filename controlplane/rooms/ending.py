"""Ending a room, in two steps so that a crash between them is repaired by the reaper.

`claim_end` moves the room to `ending` (one caller wins, across processes) and records why and
when; `finish_end` tells the room, stops its browser and marks it `ended`. A room left in
`ending` by a crashed ender is finished by the reaper (`finish_stuck_end`).
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.context import AppContext
from controlplane.models import Room, RoomStatus
from controlplane.models.types import utcnow
from controlplane.rooms import profiles
from controlplane.rooms.lifecycle import ClaimEnd, FinishEnd, ReclaimEnd
from controlplane.rooms.transitions import transition

log = logging.getLogger(__name__)

LAST_SAVE_WAIT_S = 5.0


async def end_room(
    *, ctx: AppContext, session: AsyncSession, room: Room, by: str | None, reason: str
) -> Room:
    """End a room: broadcast `room.ended`, stop its runtime, set `ended_at`. Idempotent."""
    if not await claim_end(ctx=ctx, session=session, room=room, reason=reason):
        return room
    await finish_end(ctx=ctx, session=session, room=room, by=by, reason=reason)
    return room


async def claim_end(
    *, ctx: AppContext, session: AsyncSession, room: Room, reason: str, only_pooled: bool = False
) -> bool:
    """Move a room to `ending`; True for exactly one caller however many race (across processes).
    `only_pooled`: only while it is still a warm browser (not if a user was given it meanwhile).
    The reason and the time are recorded now, so a reaper sweep can finish an end that a crash
    interrupted (`finish_stuck_end`)."""
    if room.status in (RoomStatus.ended, RoomStatus.ending):
        return False
    won = await transition(
        session=session,
        events=ctx.events,
        room_id=room.id,
        event=ClaimEnd(reason=reason, only_pooled=only_pooled),
    )
    # Reloaded either way: the reason is computed in SQL, so the object cannot know it.
    await session.refresh(room)
    return won


async def finish_end(
    *, ctx: AppContext, session: AsyncSession, room: Room, by: str | None, reason: str
) -> None:
    """The rest of ending a room, for the caller that won `claim_end`. A room with its host's
    browser profile gets up to LAST_SAVE_WAIT_S for its agent's last save (sent on
    `room.ended`) before its runtime is stopped: the stop's signal reaches the browser too."""
    since = utcnow()
    await ctx.events.room_ended(room.id, by=by, reason=reason)
    if room.keep_profile and room.host_id is not None and room.runtime_ref:
        saved = await profiles.await_last_save(
            session=session, user_id=room.host_id, since=since, within_s=LAST_SAVE_WAIT_S
        )
        log.info("browser profile last save", extra={"room": room.room_code, "saved": saved})
    if room.runtime_ref:
        try:
            await ctx.runtime.stop(runtime_ref=room.runtime_ref)
        except Exception:
            log.exception("runtime stop failed", extra={"room": room.room_code})
    await transition(
        session=session, events=ctx.events, room_id=room.id, event=FinishEnd(reason=reason)
    )
    await session.refresh(room)
    log.info("room ended", extra={"room": room.room_code, "by": by, "reason": reason})


async def finish_stuck_end(*, ctx: AppContext, session: AsyncSession, room: Room) -> bool:
    """Finish ending a room left in `ending` (its ender crashed midway). True for the one caller
    that did it: the end time is compare-and-set, so two sweeps never both finish it. Commits
    in the caller's `session`."""
    event = ReclaimEnd(since=room.ended_at)
    if not await transition(session=session, events=ctx.events, room_id=room.id, event=event):
        return False
    # Read again even if `session` already holds the row: the reason was kept in SQL.
    fresh = await session.get(Room, room.id, populate_existing=True)
    assert fresh is not None
    await finish_end(
        ctx=ctx, session=session, room=fresh, by=None, reason=fresh.status_reason or "ended"
    )
    return True
