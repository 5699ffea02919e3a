"""Request and response bodies for accounts and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi_users import schemas
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
]
Password = Annotated[str, Field(min_length=1, max_length=128)]
Email = Annotated[EmailStr, Field(max_length=254)]


class UserRead(schemas.BaseUser[uuid.UUID]):
    username: str
    created_at: datetime


class UserCreate(schemas.BaseUserCreate):
    username: Username


class UserUpdate(schemas.BaseUserUpdate):
    username: Username | None = None


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    username: Username
    password: Password


class MeUpdateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: Username | None = None
    email: Email | None = None
    password: Password | None = None
    current_password: Password | None = None


class TokenPair(BaseModel):
    access_token: str
    # null when it went out as the web app's HttpOnly cookie (`X-Token-Transport: cookie`)
    refresh_token: str | None
    token_type: str = "bearer"
    expires_in: int


class RefreshIn(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class ForgotPasswordIn(BaseModel):
    email: Email


class ResetPasswordIn(BaseModel):
    token: Annotated[str, Field(min_length=1, max_length=2048)]
    password: Password


class SessionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
