"""The lifecycle executor on both databases: one compare-and-set per event, one winner per race,
and only the winner tells the room."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from controlplane.db import make_engine, make_sessionmaker
from controlplane.models import Room, RoomStage, RoomStatus
from controlplane.rooms.lifecycle import AgentReady, Booting, Fail, Launch, StatusNews
from controlplane.rooms.transitions import transition
from controlplane.settings import Settings


@dataclass
class Told:
    """RoomEvents that records what the room was told."""

    news: list[StatusNews] = field(default_factory=list)

    async def status_changed(self, room_id: uuid.UUID, news: StatusNews) -> None:
        self.news.append(news)

    def __getattr__(self, name: str) -> Any:  # the other events are not under test here
        raise AssertionError(f"unexpected event {name}")


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings.database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def new_room(db: async_sessionmaker[AsyncSession]) -> uuid.UUID:
    room = Room(room_code=uuid.uuid4().hex[:8], title="t", stage=RoomStage.scheduling, pooled=True)
    async with db() as s:
        s.add(room)
        await s.commit()
    return room.id


async def status_of(db: async_sessionmaker[AsyncSession], room_id: uuid.UUID) -> tuple[str, Any]:
    async with db() as s:
        row = await s.get(Room, room_id)
        assert row is not None
        return row.status, row.stage


async def test_a_start_moves_the_row_and_tells_the_room(db):
    told, room_id = Told(), await new_room(db)
    async with db() as s:
        assert await transition(session=s, events=told, room_id=room_id, event=Launch())
        assert await transition(session=s, events=told, room_id=room_id, event=Booting())
        assert not await transition(session=s, events=told, room_id=room_id, event=Booting())
    assert await status_of(db, room_id) == (RoomStatus.starting, RoomStage.booting)
    assert [n.stage for n in told.news] == [RoomStage.scheduling, RoomStage.booting]


async def test_racing_failures_have_one_winner_who_alone_tells_the_room(db):
    told, room_id = Told(), await new_room(db)

    async def fail(reason: str) -> bool:
        async with db() as s:
            return await transition(
                session=s, events=told, room_id=room_id, event=Fail(reason=reason)
            )

    won = await asyncio.gather(*(fail(f"reason {i}") for i in range(5)))
    assert sorted(won) == [False, False, False, False, True]
    assert len(told.news) == 1 and told.news[0].status == RoomStatus.failed
    async with db() as s:
        row = await s.get(Room, room_id)
        assert row is not None and row.status_reason == told.news[0].reason
        assert row.ended_at is not None
    async with db() as s:  # a failed room is not made ready by a late agent
        ready = AgentReady(video={})
        assert not await transition(session=s, events=told, room_id=room_id, event=ready)
