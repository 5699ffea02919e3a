"""Follows a room's start from the runtime's side until its agent takes over the reporting.

Between `runtime.start` and the agent's first `stage` message the room's only news comes from
the runtime: a pod waiting for a node (`scheduling`), a container booting (`booting`), or a start
that failed before any agent could run (image missing, pod unschedulable, a crash at once). This
turns that into the room's stage, or into `failed` with the runtime's reason, within seconds
instead of at the reaper's start timeout. It watches until the agent connects: a pod can be
scheduled and still fail to pull its image. Whether the runtime's word means the browser is gone,
and the reason members read, is `rooms/browser_gone.py`, the reaper's rule too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from controlplane.context import AppContext
from controlplane.models import Room, RoomStage, RoomStatus, utcnow
from controlplane.rooms.browser_gone import browser_gone
from controlplane.rooms.launch import fail_room
from controlplane.rooms.lifecycle import Booting
from controlplane.rooms.transitions import transition

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0


def spawn_watch(*, ctx: AppContext, room: Room) -> None:
    """Watch a room's start in the background of this process, if it is still starting. Only
    where the loop outlives the start (an API process); a reaper task in a short-lived worker
    loop leaves it to the reaper's start timeout."""
    if room.runtime_ref is None or room.status != RoomStatus.starting:
        return
    ctx.spawn(
        watch_start(
            ctx=ctx, room_id=room.id, room_code=room.room_code, runtime_ref=room.runtime_ref
        ),
        name=f"start-watch-{room.room_code}",
    )


async def watch_start(
    *, ctx: AppContext, room_id: uuid.UUID, room_code: str, runtime_ref: str
) -> None:
    deadline = time.monotonic() + ctx.settings.ROOM_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        async with ctx.sessionmaker() as session:
            room = await session.get(Room, room_id)
        if room is None or room.status not in (RoomStatus.creating, RoomStatus.starting):
            return
        if await ctx.presence.agent(str(room_id)) is not None:
            return  # the agent is connected and reports its own stages (and failures)
        info = await ctx.runtime.status(runtime_ref=runtime_ref)
        gone = browser_gone(
            state=info.state, detail=info.detail, launched_for=utcnow() - room.created_at
        )
        if gone is not None:
            # The container's own output is for operators, never in the members' reason.
            log.warning(
                "room browser failed to start",
                extra={"room": room_code, "detail": info.detail, "logs": info.logs},
            )
            async with ctx.sessionmaker() as session:
                await fail_room(ctx=ctx, session=session, room=room, reason=gone)
            return
        booting = info.state == "running" or info.stage == RoomStage.booting
        if booting and room.stage == RoomStage.scheduling:
            async with ctx.sessionmaker() as session:
                await transition(
                    session=session, events=ctx.events, room_id=room.id, event=Booting()
                )
    log.info("start watch gave up; the reaper's start timeout applies", extra={"room": room_code})
