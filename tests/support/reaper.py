"""A live server whose fake runtime the reaper can be told about (what a room's browser is
doing, which rooms the runtime still manages), and rooms made ready by their agent
(tests/realtime/test_reaper.py, tests/realtime/test_reliability.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from controlplane.context import AppContext
from controlplane.models import Room
from controlplane.runtime.base import RuntimeInfo, RuntimeState
from tests.support.rooms import (
    Live,
    RecordingRuntime,
    Socket,
    agent_socket,
    create_room,
    live_server,
    room_socket,
)
from tests.support.users import SignedIn, signed_in


@dataclass
class ReaperRuntime(RecordingRuntime):
    states: dict[str, RuntimeState] = field(default_factory=dict)
    managed: list[RuntimeInfo] = field(default_factory=list)

    async def status(self, *, runtime_ref: str) -> RuntimeInfo:
        return RuntimeInfo(
            runtime_ref=runtime_ref, room_id=None, state=self.states.get(runtime_ref, "running")
        )

    async def list_managed(self) -> list[RuntimeInfo]:
        return list(self.managed)


@pytest.fixture
async def reaper_live(settings_factory) -> AsyncIterator[Live]:
    settings = await settings_factory(
        ROOM_PRESENCE_GRACE_SECONDS=0.2,
        ROOM_MAX_HOURS=1,
        REAPER_INTERVAL_SECONDS=3600,
        ROOM_START_TIMEOUT_SECONDS=86400,  # rooms here have no real browser; tested below
    )
    async with live_server(settings, runtime=ReaperRuntime()) as server:
        yield server


def ctx_of(live: Live) -> AppContext:
    return live.app.state.ctx  # type: ignore[no-any-return]


async def room_row(ctx: AppContext, code: str) -> Room:
    from sqlalchemy import select

    async with ctx.sessionmaker() as s:
        return (await s.execute(select(Room).where(Room.room_code == code))).scalar_one()  # type: ignore[arg-type]


async def hosted_ready_room(live: Live) -> tuple[dict, SignedIn, Socket, Socket]:
    """A room whose agent said `ready`, its host's socket in it: (room, host, viewer, agent)."""
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    viewer = await room_socket(live.ws_url, room["code"], host.access_token)
    agent = await agent_socket(live.agent_ws_url, live.runtime.started[room["code"]])
    await agent.send("ready", {"width": 1280, "height": 720, "fps": 30, "codec": "h264"})
    await viewer.expect("room.status", status="ready")
    return room, host, viewer, agent


async def ready_room(live: Live) -> tuple[dict, object, object]:
    room, _host, viewer, agent = await hosted_ready_room(live)
    return room, viewer, agent
