"""`room.state`: everything a socket needs to draw the room, sent first on every connect.

Read after the snapshot's `seq` is taken (docs/protocol.md): a broadcast that lands meanwhile is
either in the state or after it, never lost (the socket holds broadcasts back until then).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from watchparty_wire.room import ChatMessage, ChatUser, RoomState, You

from controlplane.models import Message, Room
from controlplane.realtime.presence import Presence
from controlplane.realtime.remote import RemoteState
from controlplane.rooms import queries, queue
from controlplane.rooms.ice import ice_servers
from controlplane.rooms.schemas import RoomPublic, RoomSettings
from controlplane.settings import Settings


def chat_message(msg: Message, username: str) -> ChatMessage:
    return ChatMessage(
        id=str(msg.id),
        user=ChatUser(id=str(msg.user_id), username=username),
        text=msg.message,
        created_at=msg.created_at.isoformat(),
        client_id=msg.client_id,
        kind="system" if msg.kind == "system" else "user",
    )


async def room_state(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    presence: Presence,
    remote: RemoteState,
    room_id: str,
    user_id: str,
    conn_id: str,
) -> RoomState:
    async with sessionmaker() as s:
        room = await s.get(Room, uuid.UUID(room_id))
        assert room is not None
        people = await queries.participants(session=s, room_id=room.id)
        recent, _ = await queries.history(
            session=s, room_id=room.id, before=None, limit=settings.ROOM_RECENT_CHAT
        )
        queued = await queue.entries(session=s, room_id=room.id)
    online = await presence.online(room_id)
    voices = await presence.voices(room_id)
    host = str(room.host_id)
    participants: list[dict[str, Any]] = [
        {
            "user_id": str(p.user_id),
            "username": name,
            "role": "host" if str(p.user_id) == host else "guest",
            "online": str(p.user_id) in online,
            "voice": voices.get(str(p.user_id)),
        }
        for p, name in people
        if queries.is_active(p)
    ]
    return RoomState(
        room=RoomPublic.of(room, settings),
        you=You(user_id=user_id, conn_id=conn_id, role="host" if user_id == host else "guest"),
        participants=participants,
        remote=remote.public(),
        browser=await presence.browser(room_id),
        agent_connected=await presence.agent(room_id) is not None,
        chat=[chat_message(msg, name) for msg, name in reversed(recent)],
        ice_servers=ice_servers(settings, user=user_id, now=time.time()),
        media=await presence.media(room_id),
        queue=queue.public(queued),
        settings=RoomSettings.of(room).model_dump(),
        tabs=await presence.tabs(room_id),
    )
