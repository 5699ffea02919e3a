"""A room's "Up next" queue in the database (both backends): the room's state, so it survives
reloads and a control-plane restart.

Every change runs in the caller's transaction after `lock_room`, which takes the room row
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite has one writer at a time, and the caller holds a
per-room lock in its process), so changes from several replicas apply one after the other and
the cap holds. Functions never commit: the caller announces the new queue, then commits.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from controlplane.errors import DomainError, Kind
from controlplane.models import QueueEntry, Room, User
from controlplane.realtime.outbound import ChatUser, QueueEntryOut
from controlplane.rooms.together import moved

Entry = tuple[QueueEntry, str]  # an entry and its adder's username


async def lock_room(*, session: AsyncSession, room_id: uuid.UUID) -> Room:
    """The room row, locked until the transaction ends (PostgreSQL; a no-op on SQLite)."""
    room = (
        await session.execute(select(Room).where(col(Room.id) == room_id).with_for_update())
    ).scalar_one_or_none()
    if room is None:
        raise DomainError(Kind.gone, "room_ended", "This room has ended")
    return room


async def entries(*, session: AsyncSession, room_id: uuid.UUID) -> list[Entry]:
    """The queue, next first."""
    rows = await session.execute(
        select(QueueEntry, User.username)
        .join(User, User.id == col(QueueEntry.added_by))
        .where(col(QueueEntry.room_id) == room_id)
        .order_by(col(QueueEntry.position), col(QueueEntry.added_at), col(QueueEntry.id))
    )
    return [(e, name) for e, name in rows.all()]


def public(rows: list[Entry]) -> list[QueueEntryOut]:
    return [
        QueueEntryOut(
            id=str(e.id),
            url=e.url,
            title=e.title,
            added_by=ChatUser(id=str(e.added_by), username=name),
            added_at=e.added_at.isoformat(),
        )
        for e, name in rows
    ]


async def add(
    *, session: AsyncSession, room_id: uuid.UUID, url: str, user_id: uuid.UUID, cap: int
) -> QueueEntry:
    """Append `url` (already checked against the URL policy); `queue_full` at `cap` entries."""
    count, last = (
        await session.execute(
            select(func.count(), func.max(col(QueueEntry.position))).where(
                col(QueueEntry.room_id) == room_id
            )
        )
    ).one()
    if count >= cap:
        raise DomainError(Kind.conflict, "queue_full", f"The queue holds at most {cap} addresses")
    entry = QueueEntry(
        room_id=room_id, url=url, added_by=user_id, position=(last + 1) if last is not None else 0
    )
    session.add(entry)
    await session.flush()
    return entry


async def get(*, session: AsyncSession, room_id: uuid.UUID, entry_id: uuid.UUID) -> QueueEntry:
    entry = (
        await session.execute(
            select(QueueEntry).where(
                col(QueueEntry.id) == entry_id, col(QueueEntry.room_id) == room_id
            )
        )
    ).scalar_one_or_none()
    if entry is None:
        raise DomainError(Kind.not_found, "not_in_queue", "That address is not in the queue")
    return entry


async def remove(*, session: AsyncSession, entry: QueueEntry) -> None:
    await session.execute(delete(QueueEntry).where(col(QueueEntry.id) == entry.id))


async def move(
    *, session: AsyncSession, room_id: uuid.UUID, entry_id: uuid.UUID, index: int
) -> None:
    """Put the entry at `index` (clamped): the positions are rewritten 0..n-1."""
    ids = [str(e.id) for e, _ in await entries(session=session, room_id=room_id)]
    for position, id_ in enumerate(moved(ids, str(entry_id), index)):
        await session.execute(
            update(QueueEntry).where(col(QueueEntry.id) == uuid.UUID(id_)).values(position=position)
        )


async def pop_first(*, session: AsyncSession, room_id: uuid.UUID) -> Entry | None:
    """Take the next entry out of the queue (None when it is empty)."""
    rows = await entries(session=session, room_id=room_id)
    if not rows:
        return None
    await remove(session=session, entry=rows[0][0])
    return rows[0]
