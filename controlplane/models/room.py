"""Rooms, their participants and their chat."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text, Uuid, false, true
from sqlmodel import Field, SQLModel

# A room's status and stage are the wire's (room.state and room.status carry them); re-exported.
from watchparty_wire.room import RoomStage as RoomStage
from watchparty_wire.room import RoomStatus as RoomStatus

from controlplane.models.types import UTCDateTime, utcnow

LIVE_STATUSES = (
    RoomStatus.creating,
    RoomStatus.starting,
    RoomStatus.ready,
    RoomStatus.idle,
)


def _user_fk(*, nullable: bool = False, index: bool = True) -> Column[uuid.UUID]:
    return Column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=nullable, index=index)


def _room_fk() -> Column[uuid.UUID]:
    return Column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, index=True)


def _ts(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime, nullable=nullable, index=index)


class Room(SQLModel, table=True):
    __tablename__ = "rooms"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_code: str = Field(sa_column=Column(String(16), unique=True, nullable=False, index=True))
    title: str = Field(sa_column=Column(String(120), nullable=False))
    # None only while the room is a warm-pool browser that nobody has been given yet.
    host_id: uuid.UUID | None = Field(default=None, sa_column=_user_fk(nullable=True))
    status: str = Field(
        default=RoomStatus.creating, sa_column=Column(String(16), nullable=False, index=True)
    )
    status_reason: str | None = Field(default=None, sa_column=Column(String(500)))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    ended_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    max_participants: int = Field(default=10)
    start_url: str | None = Field(default=None, sa_column=Column(String(2048)))
    last_active_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    runtime_ref: str | None = Field(default=None, sa_column=Column(String(255)))
    agent_secret_hash: str | None = Field(default=None, sa_column=Column(String(128)))
    agent_seen_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # Start-up progress while `starting`: scheduling, booting, browser_ready; then ready.
    stage: str | None = Field(default=None, sa_column=Column(String(32)))
    # A warm-pool browser (ROOM_WARM_POOL): started before anyone asked, handed to the next
    # new room. Invisible to users until then.
    pooled: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=false(), index=True),
    )
    # The host's settings (PATCH /api/rooms/{code}/settings): any member may use the media
    # controls (else only the host and the remote's holder); only the host and the holder may
    # add to the queue.
    anyone_can_pause: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )
    queue_host_only: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    # Chosen when the room is created. `keep_profile`: the host's saved browser profile is
    # loaded into this room and saved back from it; `profile_others_drive`: while it is loaded,
    # members other than the host may hold the remote; `block_ads`: the agent blocks ad and
    # tracker requests and hides ad slots.
    keep_profile: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    profile_others_drive: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    block_ads: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )


class RoomParticipant(SQLModel, table=True):
    __tablename__ = "room_participants"
    __table_args__ = (Index("ix_room_participants_room_user", "room_id", "user_id", unique=True),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_id: uuid.UUID = Field(sa_column=_room_fk())
    user_id: uuid.UUID = Field(sa_column=_user_fk())
    joined_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    left_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    is_host: bool = False
    kicked: bool = False


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_room_created", "room_id", "created_at"),
        # A client's retry of a message that was stored (its echo lost) finds it here instead
        # of storing it twice. NULLs (messages sent without an id) never collide.
        Index("ix_messages_room_user_client", "room_id", "user_id", "client_id", unique=True),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: uuid.UUID = Field(sa_column=_user_fk(index=False))
    message: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # The sender's id for the message (`chat.send`'s `client_id`), unique per user and room.
    client_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # `user`: a member wrote it; `system`: the room said it on the member's behalf (a media
    # command, the queue moving on), `user_id` being the one who caused it.
    kind: str = Field(
        default="user", sa_column=Column(String(16), nullable=False, server_default="user")
    )


class QueueEntry(SQLModel, table=True):
    """One address in a room's "Up next" queue. The queue is ordered by `position` (then
    `added_at`, `id`): rewritten 0..n-1 on every move, so two racing adds that took the same
    position still come out in a stable order."""

    __tablename__ = "queue_entries"
    __table_args__ = (Index("ix_queue_entries_room_position", "room_id", "position"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False)
    )
    url: str = Field(sa_column=Column(String(2048), nullable=False))
    title: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    added_by: uuid.UUID = Field(sa_column=_user_fk(index=False))
    added_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    position: int = Field(sa_column=Column(Integer, nullable=False))
