"""The one executor of the room lifecycle: a compare-and-set UPDATE per event, then the news.

`rooms/lifecycle.py` says which events apply from which state; this turns that rule into the
WHERE clause of one conditional UPDATE, so however many callers race (API processes, reaper
workers, the start watcher, the agent channel), exactly one wins each change. The winner, and
only it, tells the room through `RoomEvents.status_changed`, after the commit.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from controlplane.models import Room
from controlplane.models.types import utcnow
from controlplane.ports import RoomEvents
from controlplane.rooms.lifecycle import (
    TABLE,
    ClaimEnd,
    Fail,
    FinishEnd,
    LifeEvent,
    ReclaimEnd,
    news_of,
    only_pooled,
    stage_of,
)
from controlplane.rooms.queries import rowcount


async def transition(
    *, session: AsyncSession, events: RoomEvents, room_id: uuid.UUID, event: LifeEvent
) -> bool:
    """Apply `event` to the room if its rule allows it from the row's current state; True for the
    caller that made the change. Commits `session`."""
    rule = TABLE[type(event)]
    stmt = update(Room).where(col(Room.id) == room_id, col(Room.status).in_(rule.from_))
    if rule.from_stage is not None:
        stmt = stmt.where(col(Room.stage) == rule.from_stage)
    if only_pooled(event):
        stmt = stmt.where(col(Room.pooled) == True)  # noqa: E712
    if isinstance(event, ReclaimEnd):
        since = col(Room.ended_at)
        stmt = stmt.where(since.is_(None) if event.since is None else since == event.since)
    values: dict[str, Any] = {"status": rule.to}
    stage = stage_of(event)
    if stage is not None:
        values["stage"] = stage
    if isinstance(event, Fail):
        values.update(status_reason=event.reason, ended_at=utcnow())
    elif isinstance(event, ClaimEnd | FinishEnd):
        # The first reason given stays: an end finished for a crashed ender keeps its own.
        reason = func.coalesce(col(Room.status_reason), event.reason)
        values.update(status_reason=reason, ended_at=utcnow())
    elif isinstance(event, ReclaimEnd):
        values["ended_at"] = utcnow()
    result = await session.execute(stmt.values(**values))
    await session.commit()
    if not rowcount(result):
        return False
    news = news_of(event)
    if news is not None:
        await events.status_changed(room_id, news)
    return True
