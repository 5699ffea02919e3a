"""Room lifecycle: keyword-only functions shared by the REST routes, the hub and admin tools.

The database row is the truth; every change that others must see is also broadcast through the
hub (which reaches every replica over the bus).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Result, Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from controlplane.api.errors import ApiError
from controlplane.models import (
    LIVE_STATUSES,
    Message,
    Room,
    RoomParticipant,
    RoomStage,
    RoomStatus,
    User,
)
from controlplane.models.types import utcnow
from controlplane.realtime.messages import clean_text
from controlplane.rooms import codes
from controlplane.rooms.schemas import RoomCreate
from controlplane.rooms.url_policy import UrlRejected, check_url_async
from controlplane.settings import Settings

if TYPE_CHECKING:
    from controlplane.context import AppContext

log = logging.getLogger(__name__)

ENDED = (RoomStatus.ended, RoomStatus.ending)


def rowcount(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def hash_agent_secret(settings: Settings, secret: str) -> str:
    return hmac.new(settings.AGENT_SECRET_KEY.encode(), secret.encode(), hashlib.sha256).hexdigest()


def verify_agent_secret(settings: Settings, secret: str, stored: str | None) -> bool:
    if not stored:
        return False
    return hmac.compare_digest(hash_agent_secret(settings, secret), stored)


async def get_room(*, session: AsyncSession, code: str) -> Room:
    room = None
    if codes.is_valid(code):
        room = (
            await session.execute(
                select(Room).where(
                    col(Room.room_code) == codes.normalise(code),
                    col(Room.pooled) == False,  # noqa: E712 - warm browsers are nobody's room yet
                )
            )
        ).scalar_one_or_none()
    if room is None:
        raise ApiError(404, "room_not_found", "No room with that code")
    return room


async def get_participant(
    *, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
) -> RoomParticipant | None:
    return (
        await session.execute(
            select(RoomParticipant).where(
                col(RoomParticipant.room_id) == room_id, col(RoomParticipant.user_id) == user_id
            )
        )
    ).scalar_one_or_none()


def is_active(p: RoomParticipant | None) -> bool:
    return p is not None and not p.kicked and p.left_at is None


async def require_member(
    *, session: AsyncSession, room: Room, user: User
) -> RoomParticipant | None:
    """Active participants pass; administrators pass too (returning None)."""
    p = await get_participant(session=session, room_id=room.id, user_id=user.id)
    if is_active(p):
        return p
    if user.is_superuser:
        return None
    raise ApiError(403, "not_member", "You are not in this room")


def require_host(room: Room, user: User, *, admin_ok: bool = False) -> None:
    if room.host_id == user.id or (admin_ok and user.is_superuser):
        return
    raise ApiError(403, "not_host", "Only the host can do that")


async def create_room(
    *, ctx: AppContext, session: AsyncSession, user: User, body: RoomCreate
) -> Room:
    settings = ctx.settings
    max_participants = body.max_participants or settings.ROOM_MAX_PARTICIPANTS
    if max_participants > settings.ROOM_MAX_PARTICIPANTS_CAP:
        raise ApiError(
            422,
            "too_many_participants",
            f"max_participants may be at most {settings.ROOM_MAX_PARTICIPANTS_CAP}",
        )
    title = " ".join(clean_text(body.title).split())
    if not title:
        raise ApiError(422, "invalid_title", "The title is empty")
    start_url = None
    if body.start_url:
        try:
            start_url = await check_url_async(
                body.start_url, allow_private=settings.ROOM_ALLOW_PRIVATE_URLS
            )
        except UrlRejected as exc:
            raise ApiError(422, "url_not_allowed", str(exc)) from None
    retry = await ctx.rate_limiter.hit(
        f"room_create:{user.id}", limit=settings.ROOM_CREATES_PER_HOUR, window_s=3600
    )
    if retry is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"At most {settings.ROOM_CREATES_PER_HOUR} rooms per hour; retry in {retry} s",
            {"Retry-After": str(retry)},
        )
    live = (
        await session.execute(
            select(func.count()).where(
                col(Room.status).in_(LIVE_STATUSES),
                col(Room.pooled) == False,  # noqa: E712 - the warm pool is on top of the limit
            )
        )
    ).scalar_one()
    if live >= settings.ROOM_MAX_LIVE:
        raise ApiError(
            503,
            "capacity",
            f"This deployment already runs its limit of {settings.ROOM_MAX_LIVE} rooms; "
            "try again when one ends",
        )
    from controlplane.rooms import warm_pool  # the pool module builds on this one

    room = await warm_pool.claim(
        ctx=ctx,
        session=session,
        user=user,
        title=title,
        max_participants=max_participants,
        start_url=start_url,
    )
    if room is not None:
        return room
    room, agent_secret = await insert_room(
        session=session,
        settings=settings,
        host_id=user.id,
        title=title,
        max_participants=max_participants,
        start_url=start_url,
    )
    log.info("room created", extra={"room": room.room_code, "user_id": str(user.id)})
    await start_runtime(ctx=ctx, session=session, room=room, agent_secret=agent_secret, watch=True)
    if settings.ROOM_WARM_POOL:
        # Every room the pool could not serve is a sign it is short: top it up now.
        ctx.spawn(warm_pool.fill(ctx=ctx), name="warm-pool-fill")
    return room


async def insert_room(
    *,
    session: AsyncSession,
    settings: Settings,
    host_id: uuid.UUID | None,
    title: str,
    max_participants: int,
    start_url: str | None,
) -> tuple[Room, str]:
    """A new room row at stage `scheduling` (with its host as participant, when it has one), and
    the agent secret its browser will authenticate with (only its hash is stored)."""
    agent_secret = secrets.token_urlsafe(32)
    for _attempt in range(5):
        room = Room(
            room_code=codes.new_code(),
            title=title,
            host_id=host_id,
            max_participants=max_participants,
            start_url=start_url,
            agent_secret_hash=hash_agent_secret(settings, agent_secret),
            stage=RoomStage.scheduling,
            pooled=host_id is None,
        )
        session.add(room)
        if host_id is not None:
            session.add(RoomParticipant(room_id=room.id, user_id=host_id, is_host=True))
        try:
            await session.commit()
            return room, agent_secret
        except IntegrityError:  # code collision: astronomically rare, retry with a new code
            await session.rollback()
    raise ApiError(503, "unavailable", "Could not allocate a room code")


async def start_runtime(
    *, ctx: AppContext, session: AsyncSession, room: Room, agent_secret: str, watch: bool
) -> None:
    """Launch the room's browser. The room is `starting` afterwards, or `failed` with the reason
    the runtime gave. `watch`: follow the runtime's own view of the start in the background (its
    `booting` stage, a failure before the agent can say anything); off where no loop outlives
    the call (a Celery task), where the reaper's start timeout covers it instead."""
    await ctx.hub.broadcast(
        room.id,
        "room.status",
        {"status": RoomStatus.starting, "stage": RoomStage.scheduling, "agent_connected": False},
    )
    try:
        ref = await ctx.runtime.start(
            room_id=room.id,
            room_code=room.room_code,
            agent_secret=agent_secret,
            # A warm browser gets its page when it is handed to a room.
            start_url=None if room.pooled else room.start_url,
        )
    except Exception as exc:
        await fail_room(ctx=ctx, room=room, reason=(str(exc) or type(exc).__name__)[:500])
        await session.refresh(room)
        return
    room.runtime_ref = ref
    # Only from `creating`: a fast agent may already have said `ready`.
    await session.execute(
        update(Room)
        .where(col(Room.id) == room.id, col(Room.status) == RoomStatus.creating)
        .values(status=RoomStatus.starting)
    )
    await session.commit()
    await session.refresh(room)
    if watch:
        from controlplane.rooms.start_watch import watch_start

        ctx.spawn(
            watch_start(ctx=ctx, room_id=room.id, room_code=room.room_code, runtime_ref=ref),
            name=f"start-watch-{room.room_code}",
        )


async def fail_room(*, ctx: AppContext, room: Room, reason: str, only_pooled: bool = False) -> bool:
    """Mark a live room failed with a reason people can read, tell the room, stop its browser.
    True for the one caller that made the change (however many race). `only_pooled`: as for
    `claim_end`."""
    async with ctx.sessionmaker() as session:
        won = await set_status(
            session=session,
            room_id=room.id,
            status=RoomStatus.failed,
            reason=reason,
            only_from=LIVE_STATUSES,
            only_pooled=only_pooled,
        )
        if won:
            await session.execute(
                update(Room).where(col(Room.id) == room.id).values(ended_at=utcnow())
            )
            await session.commit()
    if not won:
        return False
    await ctx.hub.broadcast(room.id, "room.status", {"status": RoomStatus.failed, "reason": reason})
    if room.runtime_ref:
        await ctx.runtime.stop(runtime_ref=room.runtime_ref)
    log.warning("room failed", extra={"room": room.room_code, "reason": reason})
    return True


async def list_rooms(
    *, session: AsyncSession, user: User, state: Literal["live", "ended", "all"]
) -> list[Room]:
    stmt = (
        select(Room)
        .join(RoomParticipant, col(RoomParticipant.room_id) == col(Room.id), isouter=True)
        .where(or_(col(Room.host_id) == user.id, col(RoomParticipant.user_id) == user.id))
        .distinct()
        .order_by(col(Room.created_at).desc())
        .limit(200)
    )
    stmt = _state_filter(stmt, state)
    return list((await session.execute(stmt)).scalars())


def _state_filter(stmt: Select[Any], state: str) -> Select[Any]:
    if state == "live":
        return stmt.where(col(Room.status).in_(LIVE_STATUSES))
    if state == "ended":
        return stmt.where(
            col(Room.status).in_((RoomStatus.ended, RoomStatus.failed, RoomStatus.ending))
        )
    return stmt


async def room_counts(*, session: AsyncSession) -> dict[str, int]:
    """How many rooms are in each live status (warm-pool browsers not counted)."""
    counted = (*LIVE_STATUSES, RoomStatus.ending)
    rows = await session.execute(
        select(col(Room.status), func.count())
        .where(col(Room.status).in_(counted), col(Room.pooled) == False)  # noqa: E712
        .group_by(col(Room.status))
    )
    counts = {str(status): 0 for status in counted}
    counts.update({str(status): int(n) for status, n in rows.all()})
    return counts


async def list_all_rooms(
    *, session: AsyncSession, state: Literal["live", "ended", "all"], limit: int, offset: int
) -> tuple[list[Room], int]:
    not_pooled = col(Room.pooled) == False  # noqa: E712 - warm browsers are not rooms yet
    total = (
        await session.execute(
            _state_filter(select(func.count()).select_from(Room), state).where(not_pooled)
        )
    ).scalar_one()
    stmt = (
        _state_filter(select(Room), state)
        .where(not_pooled)
        .order_by(col(Room.created_at).desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(stmt)).scalars()), int(total)


async def join(
    *, ctx: AppContext, session: AsyncSession, room: Room, user: User
) -> RoomParticipant:
    if room.status in ENDED:
        raise ApiError(410, "room_ended", "This room has ended")
    p = await get_participant(session=session, room_id=room.id, user_id=user.id)
    if p is not None and p.kicked:
        raise ApiError(403, "kicked", "You were removed from this room")
    if is_active(p):
        assert p is not None
        return p
    # Lock the room row (PostgreSQL) so two joins cannot both take the last place.
    await session.execute(select(col(Room.id)).where(col(Room.id) == room.id).with_for_update())
    active = (
        await session.execute(
            select(func.count()).where(
                col(RoomParticipant.room_id) == room.id,
                col(RoomParticipant.kicked) == False,  # noqa: E712
                col(RoomParticipant.left_at).is_(None),
            )
        )
    ).scalar_one()
    if active >= room.max_participants:
        raise ApiError(409, "room_full", f"The room is full ({room.max_participants} people)")
    if p is None:
        p = RoomParticipant(room_id=room.id, user_id=user.id, is_host=room.host_id == user.id)
        session.add(p)
    else:
        p.left_at, p.joined_at = None, utcnow()
    await session.commit()
    log.info("room joined", extra={"room": room.room_code, "user_id": str(user.id)})
    return p


async def leave(*, ctx: AppContext, session: AsyncSession, room: Room, user: User) -> None:
    p = await get_participant(session=session, room_id=room.id, user_id=user.id)
    if not is_active(p):
        raise ApiError(403, "not_member", "You are not in this room")
    assert p is not None
    p.left_at = utcnow()
    await session.commit()
    await ctx.hub.participant_removed(room, user_id=str(user.id), reason="left", by=str(user.id))


async def end_room(
    *, ctx: AppContext, session: AsyncSession, room: Room, by: str | None, reason: str
) -> Room:
    """End a room: broadcast `room.ended`, stop its runtime, set `ended_at`. Idempotent."""
    if not await claim_end(session=session, room=room, reason=reason):
        return room
    await finish_end(ctx=ctx, session=session, room=room, by=by, reason=reason)
    return room


async def claim_end(
    *, session: AsyncSession, room: Room, reason: str, only_pooled: bool = False
) -> bool:
    """Move a room to `ending`; True for exactly one caller however many race (across processes).
    `only_pooled`: only while it is still a warm browser (not if a user was given it meanwhile).
    The reason and the time are recorded now, so a reaper sweep can finish an end that a crash
    interrupted (`finish_stuck_end`)."""
    if room.status in (RoomStatus.ended, RoomStatus.ending):
        return False
    stmt = update(Room).where(
        col(Room.id) == room.id, col(Room.status).notin_((RoomStatus.ended, RoomStatus.ending))
    )
    if only_pooled:
        stmt = stmt.where(col(Room.pooled) == True)  # noqa: E712
    result = await session.execute(
        stmt.values(
            status=RoomStatus.ending,
            ended_at=utcnow(),
            status_reason=func.coalesce(col(Room.status_reason), reason),
        )
    )
    await session.commit()
    # Reloaded either way: the reason is computed in SQL, so the object cannot know it.
    await session.refresh(room)
    return rowcount(result) > 0


async def finish_end(
    *, ctx: AppContext, session: AsyncSession, room: Room, by: str | None, reason: str
) -> None:
    """The rest of ending a room, for the caller that won `claim_end`."""
    await ctx.hub.room_ended(room, by=by, reason=reason)
    if room.runtime_ref:
        try:
            await ctx.runtime.stop(runtime_ref=room.runtime_ref)
        except Exception:
            log.exception("runtime stop failed", extra={"room": room.room_code})
    room.status, room.ended_at = RoomStatus.ended, utcnow()
    room.status_reason = room.status_reason or reason
    await session.commit()
    log.info("room ended", extra={"room": room.room_code, "by": by, "reason": reason})


async def finish_stuck_end(*, ctx: AppContext, room: Room) -> bool:
    """Finish ending a room left in `ending` (its ender crashed midway). True for the one caller
    that did it: the end time is compare-and-set, so two sweeps never both finish it."""
    async with ctx.sessionmaker() as session:
        result = await session.execute(
            update(Room)
            .where(
                col(Room.id) == room.id,
                col(Room.status) == RoomStatus.ending,
                col(Room.ended_at) == room.ended_at,
            )
            .values(ended_at=utcnow())
        )
        await session.commit()
        if not rowcount(result):
            return False
        fresh = await session.get(Room, room.id)
        assert fresh is not None
        await finish_end(
            ctx=ctx, session=session, room=fresh, by=None, reason=fresh.status_reason or "ended"
        )
    return True


async def kick(
    *, ctx: AppContext, session: AsyncSession, room: Room, actor: User, user_id: uuid.UUID
) -> None:
    require_host(room, actor, admin_ok=True)
    if user_id == room.host_id:
        raise ApiError(
            409, "cannot_kick_host", "The host cannot be removed; transfer the host role first"
        )
    p = await get_participant(session=session, room_id=room.id, user_id=user_id)
    if p is None:
        raise ApiError(404, "not_participant", "That user is not in this room")
    p.kicked = True
    p.left_at = p.left_at or utcnow()
    await session.commit()
    log.info("participant kicked", extra={"room": room.room_code, "user_id": str(user_id)})
    await ctx.hub.participant_removed(room, user_id=str(user_id), reason="kicked", by=str(actor.id))


async def transfer_host(
    *, ctx: AppContext, session: AsyncSession, room: Room, actor: User, user_id: uuid.UUID
) -> Room:
    require_host(room, actor, admin_ok=True)
    if room.status in ENDED:
        raise ApiError(410, "room_ended", "This room has ended")
    target = await get_participant(session=session, room_id=room.id, user_id=user_id)
    if not is_active(target):
        raise ApiError(404, "not_participant", "That user is not in this room")
    if user_id == room.host_id:
        return room
    previous = room.host_id
    await session.execute(
        update(RoomParticipant)
        .where(col(RoomParticipant.room_id) == room.id)
        .values(is_host=col(RoomParticipant.user_id) == user_id)
    )
    room.host_id = user_id
    await session.commit()
    await session.refresh(room)
    await ctx.hub.host_changed(room, previous=str(previous), by=str(actor.id))
    return room


async def add_message(
    *, conn: AsyncConnection, room_id: uuid.UUID, user_id: uuid.UUID, text: str
) -> Message:
    """Store a chat message. It runs for every message, so it is one statement (no unit-of-work
    flush), meant for an autocommit connection: one round trip, not BEGIN + INSERT + COMMIT.
    (On any other connection the caller commits.)"""
    msg = Message(room_id=room_id, user_id=user_id, message=text)
    await conn.execute(
        _INSERT_MESSAGE,
        {
            "id": msg.id,
            "room_id": room_id,
            "user_id": user_id,
            "message": text,
            "created_at": msg.created_at,
        },
    )
    return msg


# Built once: a constant statement is compiled once and found in the cache without rebuilding
# its cache key for every message.
_INSERT_MESSAGE = insert(Message.__table__)  # type: ignore[attr-defined]


async def history(
    *, session: AsyncSession, room: Room, before: uuid.UUID | None, limit: int
) -> tuple[list[tuple[Message, str]], bool]:
    """Newest first; `before` is a message id (exclusive)."""
    stmt = (
        select(Message, User.username)
        .join(User, User.id == col(Message.user_id))
        .where(col(Message.room_id) == room.id)
    )
    if before is not None:
        anchor = (
            await session.execute(
                select(col(Message.created_at), col(Message.id)).where(
                    col(Message.id) == before,
                    col(Message.room_id) == room.id,
                )
            )
        ).one_or_none()
        if anchor is None:
            raise ApiError(404, "message_not_found", "`before` is not a message of this room")
        at, mid = anchor
        stmt = stmt.where(
            or_(
                col(Message.created_at) < at,
                and_(col(Message.created_at) == at, col(Message.id) < mid),
            )
        )
    stmt = stmt.order_by(col(Message.created_at).desc(), col(Message.id).desc()).limit(limit + 1)
    rows = [(m, u) for m, u in (await session.execute(stmt)).all()]
    return rows[:limit], len(rows) > limit


async def delete_history(*, ctx: AppContext, session: AsyncSession, room: Room, actor: User) -> int:
    require_host(room, actor, admin_ok=True)
    result = await session.execute(delete(Message).where(col(Message.room_id) == room.id))
    await session.commit()
    await ctx.hub.broadcast(room.id, "chat.cleared", {"by": str(actor.id)})
    return rowcount(result)


async def participants(
    *, session: AsyncSession, room_id: uuid.UUID
) -> list[tuple[RoomParticipant, str]]:
    rows = await session.execute(
        select(RoomParticipant, User.username)
        .join(User, User.id == col(RoomParticipant.user_id))
        .where(col(RoomParticipant.room_id) == room_id)
        .order_by(col(RoomParticipant.joined_at))
    )
    return [(p, u) for p, u in rows.all()]


async def set_status(
    *,
    session: AsyncSession,
    room_id: uuid.UUID,
    status: RoomStatus,
    reason: str | None = None,
    only_from: tuple[str, ...] | None = None,
    stage: str | None = None,
    only_pooled: bool = False,
) -> bool:
    stmt = update(Room).where(col(Room.id) == room_id)
    if only_from is not None:
        stmt = stmt.where(col(Room.status).in_(only_from))
    if only_pooled:
        stmt = stmt.where(col(Room.pooled) == True)  # noqa: E712
    values: dict[str, Any] = {"status": status, "status_reason": reason}
    if stage is not None:
        values["stage"] = stage
    result = await session.execute(stmt.values(**values))
    await session.commit()
    return rowcount(result) > 0
