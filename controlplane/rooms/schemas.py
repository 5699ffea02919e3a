"""Request and response bodies of the rooms API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints
from watchparty_wire import room as wire

from controlplane.models import Room
from controlplane.settings import Settings

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class RoomCreate(BaseModel):
    title: Title
    max_participants: Annotated[int | None, Field(ge=1, le=1000)] = None
    start_url: Annotated[str | None, Field(max_length=2048)] = None
    # The room's browser blocks ad and tracker requests and hides ad slots (the dashboard's
    # "Block ads"); the host can change it later (PATCH /api/rooms/{code}/settings).
    block_ads: bool = True
    # "Keep my browser profile": the host's saved cookies and local storage are loaded into this
    # room and saved back from it; "Let others drive my signed-in browser": meanwhile members
    # other than the host may hold the remote.
    keep_profile: bool = False
    profile_others_drive: bool = False


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


class UserRef(BaseModel):
    id: uuid.UUID
    username: str


class RoomSettings(BaseModel):
    """The host's settings: any member may play, pause and seek (else only the host and the
    remote's holder); only the host and the holder may add to the queue; the room's browser
    blocks ads."""

    anyone_can_pause: bool
    queue_host_only: bool
    block_ads: bool
    # Chosen at creation, not changed afterwards: the host's browser profile is loaded and saved.
    keep_profile: bool = False
    # While it is, members other than the host may hold the remote.
    profile_others_drive: bool = False

    @classmethod
    def of(cls, room: Room) -> RoomSettings:
        return cls(
            anyone_can_pause=room.anyone_can_pause,
            queue_host_only=room.queue_host_only,
            block_ads=room.block_ads,
            keep_profile=room.keep_profile,
            profile_others_drive=room.profile_others_drive,
        )


class RoomSettingsPatch(BaseModel):
    """`PATCH /api/rooms/{code}/settings`: the settings to change; those left out stay."""

    anyone_can_pause: bool | None = None
    queue_host_only: bool | None = None
    block_ads: bool | None = None
    profile_others_drive: bool | None = None


class QueueEntryPublic(BaseModel):
    id: uuid.UUID
    url: str
    title: str | None
    added_by: UserRef
    added_at: datetime


class RoomDetail(RoomPublic):
    """One room as `GET /api/rooms/{code}` shows it: with its queue (next first) and settings."""

    queue: list[QueueEntryPublic]
    settings: RoomSettings


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


class MessagePublic(BaseModel):
    id: uuid.UUID
    user: UserRef
    text: str
    created_at: datetime
    # `system`: a line the room said on `user`'s behalf (a media command, the queue moving on).
    kind: Literal["user", "system"] = "user"


class MessagesPage(BaseModel):
    data: list[MessagePublic]
    has_more: bool


class HostTransfer(BaseModel):
    user_id: uuid.UUID


class WarmPoolPublic(BaseModel):
    target: int
    ready: int
    starting: int


class BrowserProfilePublic(BaseModel):
    """`GET /api/users/me/profile`: whether a browser profile is saved, its size, when."""

    saved: bool
    bytes: int | None = None
    updated_at: datetime | None = None
