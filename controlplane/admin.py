"""Administrative actions run from the CLI."""

from __future__ import annotations

from fastapi_users import exceptions as fu_exc

from controlplane.auth.schemas import UserCreate
from controlplane.auth.users import user_manager_for
from controlplane.settings import Settings
from controlplane.wiring import build_context


async def create_superuser(*, settings: Settings, email: str, username: str, password: str) -> bool:
    """Create a superuser; if the e-mail already has an account, promote it. True if created."""
    ctx = build_context(settings)
    try:
        async with ctx.sessionmaker() as db:
            users = user_manager_for(db, ctx)
            try:
                existing = await users.get_by_email(email)
            except fu_exc.UserNotExists:
                existing = None
            if existing is not None:
                await users.user_db.update(existing, {"is_superuser": True, "is_active": True})
                return False
            try:
                await users.create(
                    UserCreate(
                        email=email,
                        username=username,
                        password=password,
                        is_superuser=True,
                        is_verified=True,
                    ),
                    safe=False,
                )
            except fu_exc.InvalidPasswordException as exc:
                raise ValueError(str(exc.reason)) from None
            return True
    finally:
        await ctx.aclose()
