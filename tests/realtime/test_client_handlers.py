"""The room socket's handler table, driven through the hub with the in-process bus, in-memory
presence, a SQLite file and a fake socket: no server, no Redis, no browser."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.websockets import WebSocketState
from watchparty_wire.room import CLIENT_MESSAGES

from controlplane.db import make_engine, make_sessionmaker
from controlplane.models import Room, RoomParticipant, RoomStage, RoomStatus, User
from controlplane.realtime.bus import InProcessBus
from controlplane.realtime.client_handlers import ClientHandlers
from controlplane.realtime.hub import Hub
from controlplane.realtime.presence import MemoryPresence
from controlplane.services.ratelimit import MemoryRateLimiter
from tests.support.backends import embedded_settings


class FakeSocket:
    """What the hub uses of a WebSocket: frames in, text out, a close."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.application_state = WebSocketState.CONNECTED

    async def receive(self) -> dict[str, Any]:
        return await self.inbox.get()

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = (code, reason)
        self.application_state = WebSocketState.DISCONNECTED

    def send(self, type_: str, data: dict[str, Any] | None = None) -> None:
        text = json.dumps({"type": type_, "data": data or {}})
        self.inbox.put_nowait({"type": "websocket.receive", "text": text})

    async def next(self, type_: str, within: float = 2.0) -> dict[str, Any]:
        """The first message of `type_` not taken yet."""
        for _ in range(int(within / 0.01)):
            for i, msg in enumerate(self.sent):
                if msg["type"] == type_:
                    return self.sent.pop(i)
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {type_}; got {[s['type'] for s in self.sent]}")


@dataclass
class Room1:
    hub: Hub
    room: Room
    host: User
    guest: User
    sockets: list[FakeSocket] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def connect(self, user: User) -> FakeSocket:
        ws = FakeSocket()
        serving = self.hub.serve_client(ws, self.room, user)  # type: ignore[arg-type]
        self.tasks.append(asyncio.create_task(serving))
        await ws.next("room.state")
        self.sockets.append(ws)
        return ws


@pytest.fixture
async def room1(tmp_path: Path) -> AsyncIterator[Room1]:
    settings = await embedded_settings(tmp_path / "data", ROOM_PRESENCE_GRACE_SECONDS=0)
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    host = User(id=uuid.uuid4(), email="ana@example.com", username="ana", hashed_password="x")
    guest = User(id=uuid.uuid4(), email="ben@example.com", username="ben", hashed_password="x")
    room = Room(room_code="k7qm3xtp", title="Movie night", host_id=host.id, stage=RoomStage.ready)
    room.status = RoomStatus.ready
    async with maker() as s:
        s.add_all([host, guest])
        await s.flush()
        s.add(room)
        await s.flush()
        s.add_all(
            [
                RoomParticipant(room_id=room.id, user_id=host.id, is_host=True),
                RoomParticipant(room_id=room.id, user_id=guest.id),
            ]
        )
        await s.commit()
    hub = Hub(
        settings=settings,
        bus=InProcessBus(),
        presence=MemoryPresence(),
        sessionmaker=maker,
        rate_limiter=MemoryRateLimiter(),
        engine=engine,
    )
    await hub.start()
    r = Room1(hub=hub, room=room, host=host, guest=guest)
    yield r
    for ws in r.sockets:
        ws.inbox.put_nowait({"type": "websocket.disconnect"})
    await asyncio.gather(*r.tasks, return_exceptions=True)
    await hub.aclose()
    await engine.dispose()


async def test_every_client_message_has_a_handler(room1: Room1):
    assert isinstance(room1.hub.handlers, ClientHandlers)
    assert set(room1.hub.handlers.table) == set(CLIENT_MESSAGES)


async def test_ping_gets_a_pong_and_chat_reaches_everyone(room1: Room1):
    ana, ben = await room1.connect(room1.host), await room1.connect(room1.guest)
    ana.send("ping")
    assert (await ana.next("pong"))["data"] == {}
    ben.send("chat.send", {"text": " hi\x00 there ", "client_id": "c-1"})
    for ws in (ana, ben):
        msg = await ws.next("chat.message")
        assert msg["data"]["text"] == "hi there" and msg["data"]["user"]["username"] == "ben"
        assert msg["data"]["client_id"] == "c-1"


async def test_refusals_are_error_replies_and_the_socket_stays_open(room1: Room1):
    ben = await room1.connect(room1.guest)
    ben.send("browser.click", {"x": 0.5, "y": 0.5})
    err = await ben.next("error")
    assert err["data"] == {
        "code": "not_holder",
        "detail": "Only the holder of the remote can do that",
        "type": "browser.click",
    }
    ben.send("chat.send", {"text": "   "})
    assert (await ben.next("error"))["data"]["code"] == "empty_message"
    ben.send("chat.sned", {})
    err = await ben.next("error")
    assert err["data"]["code"] == "unknown_type" and "type" not in err["data"]
    ben.send("rtc.offer", {"to": "agent", "sdp": "v=0"})
    assert (await ben.next("error"))["data"]["code"] == "agent_unavailable"
    ben.send("ping")
    await ben.next("pong")
    assert ben.closed is None


async def test_the_remote_changes_hands_and_the_holder_drives(room1: Room1):
    ana, ben = await room1.connect(room1.host), await room1.connect(room1.guest)
    ben.send("remote.request")
    assert (await ana.next("remote.requested"))["data"]["user_id"] == str(room1.guest.id)
    ana.send("remote.grant", {"user_id": str(room1.guest.id)})
    changed = await ben.next("remote.changed")
    assert changed["data"]["holder_id"] == str(room1.guest.id)
    assert changed["data"]["reason"] == "granted"
    ana.send("browser.click", {"x": 0.1, "y": 0.2})
    assert (await ana.next("error"))["data"]["code"] == "not_holder"


async def test_voice_mesh_offers_reach_one_peer_only(room1: Room1):
    ana, ben = await room1.connect(room1.host), await room1.connect(room1.guest)
    for ws in (ana, ben):  # voice signalling is between people in voice
        ws.send("voice.state", {"muted": False})
    await ana.next("voice.state")
    await ana.next("voice.state")
    ana.send("rtc.offer", {"to": str(room1.guest.id), "sdp": "v=0 ana"})
    offer = await ben.next("rtc.offer")
    assert offer["data"]["from"] == str(room1.host.id) and offer["data"]["sdp"] == "v=0 ana"
    assert offer["data"]["conn"]
    ana.send("rtc.offer", {"to": str(room1.host.id), "sdp": "v=0"})
    assert (await ana.next("error"))["data"]["code"] == "invalid_target"
    assert not [s for s in ana.sent if s["type"] == "rtc.offer"]


async def test_typing_and_voice_state_are_announced(room1: Room1):
    ana, ben = await room1.connect(room1.host), await room1.connect(room1.guest)
    ben.send("chat.typing", {"typing": True})
    assert (await ana.next("chat.typing"))["data"] == {
        "user_id": str(room1.guest.id),
        "typing": True,
    }
    ben.send("voice.state", {"muted": True})
    voice = await ana.next("voice.state")
    assert voice["data"] == {
        "user_id": str(room1.guest.id),
        "muted": True,
        "deafened": False,
        "speaking": False,
    }


async def test_a_frame_over_the_limit_closes_the_socket(room1: Room1):
    ben = await room1.connect(room1.guest)
    ben.inbox.put_nowait({"type": "websocket.receive", "text": "x" * 70_000})
    err = await ben.next("error")
    assert err["data"]["code"] == "too_large"
    for _ in range(100):
        if ben.closed is not None:
            break
        await asyncio.sleep(0.01)
    assert ben.closed == (1009, "frame too large")
