"""The rooms' SQL that the REST services, the room hub and the reaper need: reads, and the few
writes that are not lifecycle transitions (those are `rooms/transitions.py`'s alone).

Functions take the session (or connection) to run in and commit only where they say so, so a
caller can group them into its own transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Result, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from controlplane.errors import DomainError, Kind
from controlplane.models import LIVE_STATUSES, Message, Room, RoomParticipant, RoomStatus, User
from controlplane.models.types import utcnow


def rowcount(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


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


async def host_of(*, session: AsyncSession, room_id: uuid.UUID) -> str:
    """The host's user id ("" for a warm-pool browser, which has no host yet)."""
    host = (
        await session.execute(select(col(Room.host_id)).where(col(Room.id) == room_id))
    ).scalar_one()
    return str(host) if host else ""


async def profile_owner_only(*, session: AsyncSession, room_id: uuid.UUID) -> bool:
    """Whether only the host may hold the room's remote: it keeps their browser profile and
    they did not let others drive (`realtime/remote.may_hold`)."""
    row = (
        await session.execute(
            select(col(Room.keep_profile), col(Room.profile_others_drive)).where(
                col(Room.id) == room_id
            )
        )
    ).one_or_none()
    return row is not None and bool(row[0]) and not bool(row[1])


async def status_of(*, session: AsyncSession, room_id: uuid.UUID) -> RoomStatus | None:
    status = (
        await session.execute(select(col(Room.status)).where(col(Room.id) == room_id))
    ).scalar_one_or_none()
    return RoomStatus(status) if status is not None else None


async def agent_seen(*, session: AsyncSession, room_id: uuid.UUID) -> None:
    """The room's agent is alive now (the reaper fails rooms whose agent went quiet). Commits."""
    await session.execute(
        update(Room).where(col(Room.id) == room_id).values(agent_seen_at=utcnow())
    )
    await session.commit()


async def rooms_to_judge(*, session: AsyncSession) -> list[Room]:
    """Every room the reaper judges: the live ones and the failed ones (which it ends)."""
    stmt = select(Room).where(col(Room.status).in_((*LIVE_STATUSES, RoomStatus.failed)))
    return list((await session.execute(stmt)).scalars())


async def ending_rooms(*, session: AsyncSession) -> list[Room]:
    stmt = select(Room).where(col(Room.status) == RoomStatus.ending)
    return list((await session.execute(stmt)).scalars())


async def live_room_ids(*, session: AsyncSession) -> set[uuid.UUID]:
    stmt = select(col(Room.id)).where(col(Room.status).in_(LIVE_STATUSES))
    return set((await session.execute(stmt)).scalars())


async def touch(*, session: AsyncSession, room_id: uuid.UUID, at: datetime) -> None:
    """Someone is in the room at `at`: its idle clock restarts from there. Commits."""
    await session.execute(update(Room).where(col(Room.id) == room_id).values(last_active_at=at))
    await session.commit()


async def add_message(
    *,
    conn: AsyncConnection,
    room_id: uuid.UUID,
    user_id: uuid.UUID,
    text: str,
    client_id: str | None = None,
    kind: str = "user",
) -> tuple[Message, bool]:
    """Store a chat message; returns it and whether it is new. It runs for every message, so it
    is one statement (no unit-of-work flush), meant for an autocommit connection: one round
    trip, not BEGIN + INSERT + COMMIT (and a failed INSERT leaves no aborted transaction for
    the read that follows it).

    `client_id` makes it idempotent per user and room: a retry of a message already stored (its
    INSERT committed, but the sender never saw the echo) returns the stored row, `False`. Two
    racing inserts of one id are settled by the unique index: the loser reads the winner's row."""
    msg = Message(room_id=room_id, user_id=user_id, message=text, client_id=client_id, kind=kind)
    try:
        await conn.execute(
            _INSERT_MESSAGE,
            {
                "id": msg.id,
                "room_id": room_id,
                "user_id": user_id,
                "message": text,
                "created_at": msg.created_at,
                "client_id": client_id,
                "kind": kind,
            },
        )
    except IntegrityError:
        if client_id is None:
            raise
        stored = await message_by_client_id(
            conn=conn, room_id=room_id, user_id=user_id, client_id=client_id
        )
        if stored is None:  # not our unique index (e.g. the room was deleted)
            raise
        return stored, False
    return msg, True


async def message_by_client_id(
    *, conn: AsyncConnection, room_id: uuid.UUID, user_id: uuid.UUID, client_id: str
) -> Message | None:
    row = (
        await conn.execute(
            select(Message.__table__).where(  # type: ignore[attr-defined]
                col(Message.room_id) == room_id,
                col(Message.user_id) == user_id,
                col(Message.client_id) == client_id,
            )
        )
    ).one_or_none()
    return Message.model_validate(dict(row._mapping)) if row is not None else None


# Built once: a constant statement is compiled once and found in the cache without rebuilding
# its cache key for every message.
_INSERT_MESSAGE = insert(Message.__table__)  # type: ignore[attr-defined]


async def history(
    *, session: AsyncSession, room_id: uuid.UUID, before: uuid.UUID | None, limit: int
) -> tuple[list[tuple[Message, str]], bool]:
    """Newest first; `before` is a message id (exclusive)."""
    stmt = (
        select(Message, User.username)
        .join(User, User.id == col(Message.user_id))
        .where(col(Message.room_id) == room_id)
    )
    if before is not None:
        anchor = (
            await session.execute(
                select(col(Message.created_at), col(Message.id)).where(
                    col(Message.id) == before,
                    col(Message.room_id) == room_id,
                )
            )
        ).one_or_none()
        if anchor is None:
            raise DomainError(
                Kind.not_found, "message_not_found", "`before` is not a message of this room"
            )
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
