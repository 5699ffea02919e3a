"""Bringing a room's browser up: a new room row, the runtime's start, and failing a room.

Status changes go through `rooms/transitions.py`, so each is one compare-and-set and the room
hears of it once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from controlplane.context import AppContext
from controlplane.errors import DomainError, Kind
from controlplane.models import Room, RoomParticipant, RoomStage
from controlplane.rooms import codes
from controlplane.rooms.agent_secret import hash_agent_secret, new_agent_secret
from controlplane.rooms.lifecycle import Fail, Launch
from controlplane.rooms.transitions import transition
from controlplane.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoomChoices:
    """What the host chose when creating the room (issue 22), stored on its row."""

    keep_profile: bool = False
    profile_others_drive: bool = False
    block_ads: bool = True

    def columns(self) -> dict[str, bool]:
        return asdict(self)


async def insert_room(
    *,
    session: AsyncSession,
    settings: Settings,
    host_id: uuid.UUID | None,
    title: str,
    max_participants: int,
    start_url: str | None,
    choices: RoomChoices | None = None,
) -> tuple[Room, str]:
    """A new room row at stage `scheduling` (with its host as participant, when it has one), and
    the agent secret its browser will authenticate with (only its hash is stored). `choices`:
    the room's creation choices (`keep_profile`, ...), as columns of the row."""
    agent_secret = new_agent_secret()
    choices = choices or RoomChoices()
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
            keep_profile=choices.keep_profile,
            profile_others_drive=choices.profile_others_drive,
            block_ads=choices.block_ads,
        )
        session.add(room)
        if host_id is not None:
            session.add(RoomParticipant(room_id=room.id, user_id=host_id, is_host=True))
        try:
            await session.commit()
            return room, agent_secret
        except IntegrityError:  # code collision: astronomically rare, retry with a new code
            await session.rollback()
    raise DomainError(Kind.unavailable, "unavailable", "Could not allocate a room code")


async def start_runtime(
    *, ctx: AppContext, session: AsyncSession, room: Room, agent_secret: str
) -> None:
    """Launch the room's browser. The room is `starting` afterwards, or `failed` with the reason
    the runtime gave. The room moves to `starting` before the runtime is asked, so a fast agent's
    `ready` always finds it there. Commits in the caller's `session`, which `room` belongs to."""
    await transition(session=session, events=ctx.events, room_id=room.id, event=Launch())
    try:
        ref = await ctx.runtime.start(
            room_id=room.id,
            room_code=room.room_code,
            agent_secret=agent_secret,
            # A warm browser gets its page when it is handed to a room; a room with the host's
            # profile when the agent has loaded it (the start URL then comes in `auth.ok`), so
            # the first page is already signed in.
            start_url=None if room.pooled or room.keep_profile else room.start_url,
        )
    except Exception as exc:
        reason = (str(exc) or type(exc).__name__)[:500]
        await fail_room(ctx=ctx, session=session, room=room, reason=reason)
        await session.refresh(room)
        return
    await session.execute(update(Room).where(col(Room.id) == room.id).values(runtime_ref=ref))
    await session.commit()
    await session.refresh(room)


async def fail_room(
    *, ctx: AppContext, session: AsyncSession, room: Room, reason: str, only_pooled: bool = False
) -> bool:
    """Mark a live room failed with a reason people can read, tell the room, stop its browser.
    True for the one caller that made the change (however many race). `only_pooled`: only while
    it is still a warm browser. Commits in the caller's `session` (docs/architecture.md, "Who
    owns a database session")."""
    won = await transition(
        session=session,
        events=ctx.events,
        room_id=room.id,
        event=Fail(reason=reason, only_pooled=only_pooled),
    )
    if not won:
        return False
    if room.runtime_ref:
        await ctx.runtime.stop(runtime_ref=room.runtime_ref)
    log.warning("room failed", extra={"room": room.room_code, "reason": reason})
    return True
