"""What people do with rooms: create, find, join, leave, kick, hand over, chat history.

Keyword-only functions for the REST routes and the room socket's admission. The database row is
the truth; every change others must see is told to the room through `ctx.events` after it is
committed. Starting and ending browsers is `launch.py`'s and `ending.py`'s; status changes are
the lifecycle's (`lifecycle.py`, `transitions.py`).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, Literal

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from controlplane.context import AppContext
from controlplane.errors import DomainError, Kind
from controlplane.models import (
    LIVE_STATUSES,
    Message,
    Room,
    RoomParticipant,
    RoomStatus,
    User,
)
from controlplane.models.types import utcnow
from controlplane.rooms import codes, queue, warm_pool
from controlplane.rooms.launch import RoomChoices, insert_room, start_runtime
from controlplane.rooms.queries import get_participant, is_active, rowcount
from controlplane.rooms.schemas import (
    QueueEntryPublic,
    RoomCreate,
    RoomDetail,
    RoomPublic,
    RoomSettings,
    RoomSettingsPatch,
    UserRef,
)
from controlplane.rooms.start_watch import spawn_watch
from controlplane.rooms.text import clean_text
from controlplane.rooms.url_policy import UrlRejected, check_url_async
from controlplane.settings import Settings

log = logging.getLogger(__name__)

ENDED = (RoomStatus.ended, RoomStatus.ending)


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
        raise DomainError(Kind.not_found, "room_not_found", "No room with that code")
    return room


def _code_budgets(settings: Settings, user_id: uuid.UUID, ip: str) -> list[tuple[str, int]]:
    """The wrong-code budgets a lookup spends: (rate-limit key, misses allowed per minute)."""
    per_user = settings.RATE_LIMIT_ROOM_CODE_MISSES_PER_MINUTE
    return [
        (f"roomcode:user:{user_id}", per_user),
        (f"roomcode:ip:{ip}", per_user * settings.RATE_LIMIT_IP_MULTIPLIER),
    ]


async def find_room(
    *, ctx: AppContext, session: AsyncSession, code: str, user: User, ip: str
) -> Room:
    """The room a code names, for every route and socket that takes a code from a caller.

    Wrong codes are counted per user and per client address
    (RATE_LIMIT_ROOM_CODE_MISSES_PER_MINUTE, times RATE_LIMIT_IP_MULTIPLIER per address); over
    either budget every lookup by someone who is not in the room is refused (`rate_limited`,
    429 / close 4429) until the minute ends, the right code too and whether the answer would
    have been "no such room" or "not a member", so no route is an oracle for guessing. The
    room's host, its active members and administrators are never refused: they know the code
    already, and a guesser behind the same address (a NAT, a proxy) must not lock them out of
    their own room. Lookups of rooms that exist are not counted."""
    budgets = _code_budgets(ctx.settings, user.id, ip)
    try:
        room = await get_room(session=session, code=code)
    except DomainError as exc:
        if exc.kind is Kind.not_found:
            await _refuse_when_spent(ctx, budgets)
            for key, limit in budgets:
                await ctx.rate_limiter.hit(key, limit=limit, window_s=60)
        raise
    if user.is_superuser or room.host_id == user.id:
        return room
    if is_active(await get_participant(session=session, room_id=room.id, user_id=user.id)):
        return room
    await _refuse_when_spent(ctx, budgets)
    return room


async def _refuse_when_spent(ctx: AppContext, budgets: list[tuple[str, int]]) -> None:
    for key, limit in budgets:  # `limit` misses spent: refused until the window ends
        retry = await ctx.rate_limiter.over(key, limit=limit - 1)
        if retry is not None:
            raise DomainError(
                Kind.rate_limited,
                "rate_limited",
                f"Too many wrong room codes; retry in {retry} s",
                retry_after=retry,
            )


async def admit(*, ctx: AppContext, session: AsyncSession, code: str, user: User, ip: str) -> Room:
    """The room a user's socket may join: it exists, has not ended, and they are in it (the
    lookup spends the wrong-code budget like every other, `find_room`)."""
    room = await find_room(ctx=ctx, session=session, code=code, user=user, ip=ip)
    if room.status in ENDED:
        raise DomainError(Kind.gone, "room_ended", "This room has ended")
    p = await get_participant(session=session, room_id=room.id, user_id=user.id)
    if not is_active(p):
        raise DomainError(Kind.forbidden, "not_member", "You are not in this room")
    return room


async def require_member(
    *, session: AsyncSession, room: Room, user: User
) -> RoomParticipant | None:
    """Active participants pass; administrators pass too (returning None)."""
    p = await get_participant(session=session, room_id=room.id, user_id=user.id)
    if is_active(p):
        return p
    if user.is_superuser:
        return None
    raise DomainError(Kind.forbidden, "not_member", "You are not in this room")


def require_host(room: Room, user: User, *, admin_ok: bool = False) -> None:
    if room.host_id == user.id or (admin_ok and user.is_superuser):
        return
    raise DomainError(Kind.forbidden, "not_host", "Only the host can do that")


async def create_room(
    *, ctx: AppContext, session: AsyncSession, user: User, body: RoomCreate
) -> Room:
    settings = ctx.settings
    max_participants = body.max_participants or settings.ROOM_MAX_PARTICIPANTS
    if max_participants > settings.ROOM_MAX_PARTICIPANTS_CAP:
        raise DomainError(
            Kind.invalid,
            "too_many_participants",
            f"max_participants may be at most {settings.ROOM_MAX_PARTICIPANTS_CAP}",
        )
    title = " ".join(clean_text(body.title).split())
    if not title:
        raise DomainError(Kind.invalid, "invalid_title", "The title is empty")
    start_url = None
    if body.start_url:
        try:
            start_url = await check_url_async(
                body.start_url, allow_private=settings.ROOM_ALLOW_PRIVATE_URLS
            )
        except UrlRejected as exc:
            raise DomainError(Kind.invalid, "url_not_allowed", str(exc)) from None
    retry = await ctx.rate_limiter.hit(
        f"room_create:{user.id}", limit=settings.ROOM_CREATES_PER_HOUR, window_s=3600
    )
    if retry is not None:
        raise DomainError(
            Kind.rate_limited,
            "rate_limited",
            f"At most {settings.ROOM_CREATES_PER_HOUR} rooms per hour; retry in {retry} s",
            retry_after=retry,
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
        raise DomainError(
            Kind.unavailable,
            "capacity",
            f"This deployment already runs its limit of {settings.ROOM_MAX_LIVE} rooms; "
            "try again when one ends",
        )
    choices = RoomChoices(
        keep_profile=body.keep_profile,
        # Meaningless without a profile: kept off so the room's settings say what applies.
        profile_others_drive=body.keep_profile and body.profile_others_drive,
        block_ads=body.block_ads,
    )
    room = await warm_pool.claim(
        ctx=ctx,
        session=session,
        user=user,
        title=title,
        max_participants=max_participants,
        start_url=start_url,
        choices=choices,
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
        choices=choices,
    )
    log.info("room created", extra={"room": room.room_code, "user_id": str(user.id)})
    await start_runtime(ctx=ctx, session=session, room=room, agent_secret=agent_secret)
    spawn_watch(ctx=ctx, room=room)
    if settings.ROOM_WARM_POOL:
        # Every room the pool could not serve is a sign it is short: top it up now.
        ctx.spawn(warm_pool.fill(ctx=ctx), name="warm-pool-fill")
    return room


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
        raise DomainError(Kind.gone, "room_ended", "This room has ended")
    if room.status == RoomStatus.failed:
        # Nobody can watch anything in it, and the reaper ends it at its next sweep.
        reason = room.status_reason or "its browser stopped"
        raise DomainError(Kind.gone, "room_failed", f"This room failed: {reason}")
    p = await get_participant(session=session, room_id=room.id, user_id=user.id)
    if p is not None and p.kicked:
        raise DomainError(Kind.forbidden, "kicked", "You were removed from this room")
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
        raise DomainError(
            Kind.conflict, "room_full", f"The room is full ({room.max_participants} people)"
        )
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
        raise DomainError(Kind.forbidden, "not_member", "You are not in this room")
    assert p is not None
    p.left_at = utcnow()
    await session.commit()
    await ctx.events.participant_removed(
        room.id, user_id=str(user.id), reason="left", by=str(user.id)
    )


async def kick(
    *, ctx: AppContext, session: AsyncSession, room: Room, actor: User, user_id: uuid.UUID
) -> None:
    require_host(room, actor, admin_ok=True)
    if user_id == room.host_id:
        raise DomainError(
            Kind.conflict,
            "cannot_kick_host",
            "The host cannot be removed; transfer the host role first",
        )
    p = await get_participant(session=session, room_id=room.id, user_id=user_id)
    if p is None:
        raise DomainError(Kind.not_found, "not_participant", "That user is not in this room")
    p.kicked = True
    p.left_at = p.left_at or utcnow()
    await session.commit()
    log.info("participant kicked", extra={"room": room.room_code, "user_id": str(user_id)})
    await ctx.events.participant_removed(
        room.id, user_id=str(user_id), reason="kicked", by=str(actor.id)
    )


async def transfer_host(
    *, ctx: AppContext, session: AsyncSession, room: Room, actor: User, user_id: uuid.UUID
) -> Room:
    require_host(room, actor, admin_ok=True)
    if room.status in ENDED:
        raise DomainError(Kind.gone, "room_ended", "This room has ended")
    target = await get_participant(session=session, room_id=room.id, user_id=user_id)
    if not is_active(target):
        raise DomainError(Kind.not_found, "not_participant", "That user is not in this room")
    if user_id == room.host_id:
        return room
    if room.keep_profile:
        # The room's browser is signed in as its host (their saved profile, saved back to
        # them): handing the room over would hand over their accounts.
        raise DomainError(
            Kind.conflict,
            "profile_room",
            "This room has the host's browser profile; the host role cannot be handed over",
        )
    previous = room.host_id
    await session.execute(
        update(RoomParticipant)
        .where(col(RoomParticipant.room_id) == room.id)
        .values(is_host=col(RoomParticipant.user_id) == user_id)
    )
    room.host_id = user_id
    await session.commit()
    await session.refresh(room)
    await ctx.events.host_changed(
        room.id, host_id=str(user_id), previous=str(previous), by=str(actor.id)
    )
    return room


async def delete_history(*, ctx: AppContext, session: AsyncSession, room: Room, actor: User) -> int:
    require_host(room, actor, admin_ok=True)
    result = await session.execute(delete(Message).where(col(Message.room_id) == room.id))
    await session.commit()
    await ctx.events.chat_cleared(room.id, by=str(actor.id))
    return rowcount(result)


async def detail(*, ctx: AppContext, session: AsyncSession, room: Room) -> RoomDetail:
    """The room with its queue and settings (`GET /api/rooms/{code}`)."""
    rows = await queue.entries(session=session, room_id=room.id)
    return RoomDetail(
        **RoomPublic.of(room, ctx.settings).model_dump(),
        queue=[
            QueueEntryPublic(
                id=e.id,
                url=e.url,
                title=e.title,
                added_by=UserRef(id=e.added_by, username=name),
                added_at=e.added_at,
            )
            for e, name in rows
        ],
        settings=RoomSettings.of(room),
    )


async def update_settings(
    *, ctx: AppContext, session: AsyncSession, room: Room, actor: User, patch: RoomSettingsPatch
) -> RoomSettings:
    """The host changes the room's settings; the room hears `room.settings`."""
    require_host(room, actor)
    if room.status in ENDED:
        raise DomainError(Kind.gone, "room_ended", "This room has ended")
    values = patch.model_dump(exclude_none=True)
    if values:
        await session.execute(update(Room).where(col(Room.id) == room.id).values(**values))
        await session.commit()
        await session.refresh(room)
        log.info(
            "room settings changed",
            extra={"room": room.room_code, "user_id": str(actor.id), **values},
        )
        await ctx.events.settings_changed(room.id, settings=RoomSettings.of(room).model_dump())
    return RoomSettings.of(room)
