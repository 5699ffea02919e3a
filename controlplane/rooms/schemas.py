"""Request and response bodies of the rooms API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from watchparty_wire import room as wire

from controlplane.models import Room
from controlplane.settings import Settings

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class RoomCreate(BaseModel):
    title: Title
    max_participants: Annotated[int | None, Field(ge=1, le=1000)] = None
    start_url: Annotated[str | None, Field(max_length=2048)] = None


class RoomPublic(wire.RoomPublic):
    # The fields are the wire package's (`room.state` carries the same object); this adds only
    # how the control plane builds one from its database.
    @classmethod
    def of(cls, room: Room, settings: Settings) -> RoomPublic:
        if room.host_id is None:  # only warm-pool browsers, which no API path returns
            raise ValueError(f"room {room.room_code} has no host")
        return cls(
            id=room.id,
            code=room.room_code,
            title=room.title,
            host_id=room.host_id,
            status=room.status,
            stage=room.stage,
            status_reason=room.status_reason,
            created_at=room.created_at,
            ended_at=room.ended_at,
            max_participants=room.max_participants,
            start_url=room.start_url,
            join_url=f"{settings.PUBLIC_URL.rstrip('/')}/room/{room.room_code}",
        )


class RoomsPublic(BaseModel):
    data: list[RoomPublic]
    count: int


class ParticipantPublic(BaseModel):
    user_id: uuid.UUID
    username: str
    is_host: bool
    joined_at: datetime
    left_at: datetime | None
    kicked: bool


class UserRef(BaseModel):
    id: uuid.UUID
    username: str


class MessagePublic(BaseModel):
    id: uuid.UUID
    user: UserRef
    text: str
    created_at: datetime


class MessagesPage(BaseModel):
    data: list[MessagePublic]
    has_more: bool


class HostTransfer(BaseModel):
    user_id: uuid.UUID


class WarmPoolPublic(BaseModel):
    target: int
    ready: int
    starting: int
