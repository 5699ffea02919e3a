"""Refresh-token sessions kept in SQL (embedded mode; Redis mode keeps them in Redis)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from controlplane.models.room import _ts, _user_fk
from controlplane.models.types import utcnow


class AuthSession(SQLModel, table=True):
    __tablename__ = "auth_sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(sa_column=_user_fk())
    nonce: str = Field(sa_column=Column(String(64), nullable=False))
    generation: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    last_used_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts(index=True))
    user_agent: str | None = Field(default=None, sa_column=Column(String(255)))
    ip: str | None = Field(default=None, sa_column=Column(String(64)))
