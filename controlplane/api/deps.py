"""`Annotated` dependencies: the only things routes import to reach services."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from controlplane.api.errors import ApiError
from controlplane.auth.access import AccessCheck
from controlplane.auth.access_tokens import AccessClaims
from controlplane.auth.identity import client_address
from controlplane.auth.users import UserManager, user_manager_for
from controlplane.context import AppContext
from controlplane.models import Room, User
from controlplane.realtime.drain import Drain
from controlplane.realtime.hub import Hub
from controlplane.rooms import service as rooms
from controlplane.settings import Settings


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_hub(conn: HTTPConnection) -> Hub:
    """This process's hub: held by the entry layer (`wiring.Wired`), never in the context."""
    hub: Hub = conn.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


def draining(conn: HTTPConnection) -> bool:
    """This process is moving its sockets to the others (SIGTERM: `realtime/drain.py`): a new
    socket is told 1012 at once, and /readyz answers 503."""
    drain: Drain | None = getattr(conn.app.state, "drain", None)
    return drain is not None and drain.started


def get_access(conn: HTTPConnection) -> AccessCheck:
    access: AccessCheck = conn.app.state.access
    return access


Access = Annotated[AccessCheck, Depends(get_access)]


def get_settings(ctx: Ctx) -> Settings:
    return ctx.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_db(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    async with ctx.sessionmaker() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_db)]


def get_user_manager(db: DbSession, ctx: Ctx) -> UserManager:
    return user_manager_for(db, ctx)


Users = Annotated[UserManager, Depends(get_user_manager)]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/login", auto_error=False)


async def get_current_access(
    db: DbSession, access: Access, token: Annotated[str | None, Depends(_bearer)]
) -> tuple[AccessClaims, User]:
    """The request's access token, checked as room sockets check theirs (`AccessCheck`): well
    signed and unexpired, its user active, and its login session still open, so a token of a
    session ended by logout, a password change or a revocation stops working at once rather than
    when it expires. Costs one session-store read (Redis, or a primary-key row) per request."""
    if not token:
        raise ApiError(
            401, "not_authenticated", "Not authenticated", {"WWW-Authenticate": "Bearer"}
        )
    verified = await access.verify(token, db=db)
    if verified is None:
        raise ApiError(
            401, "invalid_token", "Token is invalid or expired", {"WWW-Authenticate": "Bearer"}
        )
    return verified


CurrentAccess = Annotated[tuple[AccessClaims, User], Depends(get_current_access)]


def get_current_user(access: CurrentAccess) -> User:
    return access[1]


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_session_id(access: CurrentAccess) -> uuid.UUID | None:
    """The login session the request's access token was issued for (None for a token without
    one)."""
    return access[0].session_id


CurrentSessionId = Annotated[uuid.UUID | None, Depends(get_current_session_id)]


async def get_current_superuser(user: CurrentUser) -> User:
    if not user.is_superuser:
        raise ApiError(403, "forbidden", "Administrators only")
    return user


CurrentSuperuser = Annotated[User, Depends(get_current_superuser)]


def client_ip(request: HTTPConnection, settings: SettingsDep) -> str:
    """The client's address (a request's or a WebSocket's)."""
    peer = request.client.host if request.client else "unknown"
    if not settings.TRUST_PROXY_HEADERS:
        return peer
    return client_address(
        # Every X-Forwarded-For line, in order: a proxy that adds a line of its own (rather than
        # appending to the client's) must not let the client's line stand as the last hop.
        forwarded_for=", ".join(request.headers.getlist("x-forwarded-for")) or None,
        peer=peer,
        trusted_hops=settings.TRUST_PROXY_HOPS,
        trusted_proxies=settings.TRUSTED_PROXY_CIDRS,
    )


ClientIp = Annotated[str, Depends(client_ip)]


def _too_many(retry_after: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"Too many attempts; retry in {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


async def enforce(ctx: AppContext, key: str, *, limit: int, window_s: int) -> None:
    """Count a hit against a rate limit; raise 429 with Retry-After once it is exceeded."""
    retry_after = await ctx.rate_limiter.hit(key, limit=limit, window_s=window_s)
    if retry_after is not None:
        raise _too_many(retry_after)


async def get_room_by_code(
    code: str, user: CurrentUser, db: DbSession, ctx: Ctx, ip: ClientIp
) -> Room:
    """The room the path's `{code}` names, through the wrong-code budget (`rooms.find_room`):
    every route that takes a code spends it, so none answers 404 or 403 for ever."""
    return await rooms.find_room(ctx=ctx, session=db, code=code, user=user, ip=ip)


RoomByCode = Annotated[Room, Depends(get_room_by_code)]
