"""Follows a room's start from the runtime's side until its agent takes over the reporting.

Between `runtime.start` and the agent's first `stage` message the room's only news comes from
the runtime: a pod waiting for a node (`scheduling`), a container booting (`booting`), or a start
that failed before any agent could run (image missing, pod unschedulable, a crash at once). This
turns that into the room's stage, or into `failed` with the runtime's reason, within seconds
instead of at the reaper's start timeout. It watches until the agent connects: a pod can be
scheduled and still fail to pull its image.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import col

from controlplane.models import Room, RoomStage, RoomStatus
from controlplane.rooms import service

if TYPE_CHECKING:
    from controlplane.context import AppContext

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# A launched browser the runtime cannot find this many polls running has died, not "not yet".
MISSING_POLLS = 3


async def watch_start(
    *, ctx: AppContext, room_id: uuid.UUID, room_code: str, runtime_ref: str
) -> None:
    deadline = time.monotonic() + ctx.settings.ROOM_START_TIMEOUT_SECONDS
    missing = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        async with ctx.sessionmaker() as session:
            room = await session.get(Room, room_id)
        if room is None or room.status not in (RoomStatus.creating, RoomStatus.starting):
            return
        if await ctx.presence.agent(str(room_id)) is not None:
            return  # the agent is connected and reports its own stages (and failures)
        info = await ctx.runtime.status(runtime_ref=runtime_ref)
        if info.state in ("failed", "stopped"):
            reason = "The room's browser could not start"
            if info.detail:
                reason = f"{reason}: {info.detail}"
            await service.fail_room(ctx=ctx, room=room, reason=reason[:500])
            return
        if info.state == "missing":
            missing += 1
            if missing >= MISSING_POLLS:
                reason = "The room's browser stopped before it was ready"
                await service.fail_room(ctx=ctx, room=room, reason=reason)
                return
            continue
        missing = 0
        booting = info.state == "running" or info.detail == RoomStage.booting
        if booting and room.stage == RoomStage.scheduling:
            await _booting(ctx, room)
    log.info("start watch gave up; the reaper's start timeout applies", extra={"room": room_code})


async def _booting(ctx: AppContext, room: Room) -> None:
    async with ctx.sessionmaker() as session:
        result = await session.execute(
            update(Room)
            .where(col(Room.id) == room.id, col(Room.stage) == RoomStage.scheduling)
            .values(stage=RoomStage.booting)
        )
        await session.commit()
    if service.rowcount(result):
        await ctx.hub.broadcast(
            room.id,
            "room.status",
            {
                "status": RoomStatus.starting,
                "stage": RoomStage.booting,
                "agent_connected": False,
            },
        )
