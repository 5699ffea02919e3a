"""The user table: fastapi-users' SQLAlchemy mixin on the same metadata as the SQLModel tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTable
from sqlalchemy import String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlmodel import SQLModel

from controlplane.models.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    # One schema for Alembic: fastapi-users' table lives on SQLModel's metadata.
    metadata = SQLModel.metadata


class User(SQLAlchemyBaseUserTable[uuid.UUID], Base):
    __tablename__ = "users"

    # Our own id column (not the mixin's GUID) so foreign keys from SQLModel tables share a type.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(32), unique=True, index=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
