"""fastapi-users underneath: the user manager with our password policy and e-mail hooks."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import Request
from fastapi_users import BaseUserManager, InvalidPasswordException, UUIDIDMixin
from fastapi_users import exceptions as fu_exc
from fastapi_users_db_sqlalchemy import SQLAlchemyUserDatabase
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from controlplane.context import AppContext
from controlplane.models import User

log = logging.getLogger(__name__)

# The few passwords people pick first; a fuller list is a job for a breach-corpus check.
_COMMON_PASSWORDS = frozenset(
    {"password", "password1", "12345678", "123456789", "qwertyuiop", "iloveyou", "letmein123"}
)


class UserDatabase(SQLAlchemyUserDatabase[User, uuid.UUID]):
    async def get_by_username(self, username: str) -> User | None:
        result = await self.session.execute(
            select(User).where(func.lower(User.username) == username.lower())
        )
        return result.unique().scalar_one_or_none()


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):
    user_db: UserDatabase

    def __init__(self, user_db: UserDatabase, ctx: AppContext) -> None:
        super().__init__(user_db, ctx.password_helper)
        self.ctx = ctx
        self.reset_password_token_secret = ctx.settings.SECRET_KEY
        self.verification_token_secret = ctx.settings.SECRET_KEY
        self.reset_password_token_lifetime_seconds = ctx.settings.RESET_TOKEN_MINUTES * 60

    async def validate_password(self, password: str, user: Any) -> None:
        min_len = self.ctx.settings.PASSWORD_MIN_LENGTH
        if len(password) < min_len:
            raise InvalidPasswordException(f"Password must be at least {min_len} characters")
        if password.lower() in _COMMON_PASSWORDS:
            raise InvalidPasswordException("Password is too common")
        lowered = password.lower()
        local_part = (getattr(user, "email", "") or "").split("@")[0].lower()
        username = (getattr(user, "username", "") or "").lower()
        for personal in (local_part, username):
            if len(personal) >= 3 and personal in lowered:
                raise InvalidPasswordException("Password must not contain your e-mail or username")

    async def on_after_register(self, user: User, request: Request | None = None) -> None:
        log.info("user registered", extra={"user_id": str(user.id), "username": user.username})

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        link = f"{self.ctx.settings.PUBLIC_URL.rstrip('/')}/reset-password?token={token}"
        minutes = self.ctx.settings.RESET_TOKEN_MINUTES
        body = (
            f"Hi {user.username},\n\n"
            "Someone asked to reset the password of your Watch Party account.\n"
            f"Open this link within {minutes} minutes to choose a new one:\n\n{link}\n\n"
            "If it was not you, ignore this e-mail; your password stays as it is.\n"
        )
        await self.ctx.jobs.send_email(
            to=user.email, subject="Reset your Watch Party password", body=body
        )
        log.info("password reset requested", extra={"user_id": str(user.id)})

    async def on_after_reset_password(self, user: User, request: Request | None = None) -> None:
        # A reset means the old password may be known to someone else: end every session.
        await self.ctx.session_store.delete_for_user(user.id)
        log.info("password reset", extra={"user_id": str(user.id)})


def user_manager_for(session: AsyncSession, ctx: AppContext) -> UserManager:
    return UserManager(UserDatabase(session, User), ctx)


async def request_password_reset(*, ctx: AppContext, email: str) -> None:
    """Look the account up and send its reset link. Runs after `forgot-password` answered (in
    `ctx.spawn`), so a known and an unknown address answer in the same time: the lookup, the
    token and the queueing of the e-mail happen where no response can be timed."""
    async with ctx.sessionmaker() as session:
        users = user_manager_for(session, ctx)
        try:
            user = await users.get_by_email(email)
            await users.forgot_password(user)
        except (fu_exc.UserNotExists, fu_exc.UserInactive):
            return
