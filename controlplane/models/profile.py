"""A user's saved room-browser profile (issue 22), sealed (`rooms/profile_crypto.py`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, Uuid
from sqlmodel import Field, SQLModel

from controlplane.models.types import UTCDateTime, utcnow


class BrowserProfile(SQLModel, table=True):
    """One per user: cookies and local storage of the rooms they hosted with "Keep my browser
    profile", encrypted. Deleted with the user (ON DELETE CASCADE) and by "Forget my browser
    profile"."""

    __tablename__ = "browser_profiles"

    user_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    sealed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # The profile's JSON size before compression and encryption (what PROFILE_MAX_BYTES caps).
    plain_bytes: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False)
    )
