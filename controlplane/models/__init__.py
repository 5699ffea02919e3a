"""Every table, imported here so `SQLModel.metadata` is complete for Alembic."""

from controlplane.models.auth_session import AuthSession
from controlplane.models.profile import BrowserProfile
from controlplane.models.room import (
    LIVE_STATUSES,
    Message,
    QueueEntry,
    Room,
    RoomParticipant,
    RoomStage,
    RoomStatus,
)
from controlplane.models.types import UTCDateTime, utcnow
from controlplane.models.user import Base, User

__all__ = [
    "LIVE_STATUSES",
    "AuthSession",
    "Base",
    "BrowserProfile",
    "Message",
    "QueueEntry",
    "Room",
    "RoomParticipant",
    "RoomStage",
    "RoomStatus",
    "UTCDateTime",
    "User",
    "utcnow",
]
