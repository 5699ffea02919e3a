"""Accounts and sessions: register, login, refresh, logout, forgot and reset password."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import exceptions as fu_exc
from sqlalchemy.exc import IntegrityError

from controlplane.api.deps import ClientIp, Ctx, Users, enforce
from controlplane.api.errors import ApiError
from controlplane.api.refresh_cookie import (
    RefreshCookie,
    TokenTransport,
    clear_refresh_cookie,
    deliver,
    presented,
)
from controlplane.auth.identity import login_identity
from controlplane.auth.login_guard import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE_S,
    DEVICE_COOKIE_PATH,
    device_token,
    login_budgets,
    new_device,
    read_device,
)
from controlplane.auth.schemas import (
    ForgotPasswordIn,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
    TokenPair,
    UserCreate,
    UserRead,
)
from controlplane.auth.sessions import close_session, open_session, refresh_session
from controlplane.auth.users import request_password_reset
from controlplane.errors import DomainError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/auth", tags=["auth"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad input"},
    409: {"description": "Conflict"},
    422: {"description": "Validation error"},
    429: {"description": "Rate limited"},
}


def _too_long(value: str, limit: int) -> bool:
    return len(value) > limit


@router.post(
    "/register", status_code=status.HTTP_201_CREATED, response_model=UserRead, responses=_ERRORS
)
async def register(body: RegisterIn, users: Users, ctx: Ctx, ip: ClientIp) -> UserRead:
    limit = ctx.settings.RATE_LIMIT_REGISTER_PER_HOUR
    await enforce(
        ctx, f"register:ip:{ip}", limit=limit * ctx.settings.RATE_LIMIT_IP_MULTIPLIER, window_s=3600
    )
    await enforce(ctx, f"register:acct:{body.email.lower()}", limit=limit, window_s=3600)
    if await users.user_db.get_by_username(body.username) is not None:
        raise ApiError(409, "username_taken", "That username is taken")
    try:
        user = await users.create(
            UserCreate(email=body.email, username=body.username, password=body.password), safe=True
        )
    except fu_exc.UserAlreadyExists:
        raise ApiError(409, "email_taken", "An account with that e-mail already exists") from None
    except fu_exc.InvalidPasswordException as exc:
        raise ApiError(400, "weak_password", str(exc.reason)) from None
    except IntegrityError:  # a concurrent registration won the race for the same name
        raise ApiError(409, "username_taken", "That username or e-mail is taken") from None
    return UserRead.model_validate(user, from_attributes=True)


@router.post(
    "/login",
    response_model=TokenPair,
    responses={401: {"description": "Bad credentials"}, **_ERRORS},
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    users: Users,
    ctx: Ctx,
    ip: ClientIp,
    request: Request,
    response: Response,
    transport: TokenTransport = "body",
) -> TokenPair:
    """Guessing is limited per address, per account and address, and per account across
    addresses, never per account alone: a stranger's wrong passwords do not lock the owner out
    (controlplane/auth/login_guard.py). A browser that signed in to the account before (its
    `wp_device` cookie, set here) has a budget of its own."""
    if _too_long(form.username, 254) or _too_long(form.password, 128):
        raise ApiError(422, "validation_error", "username or password too long")
    # One key for every spelling the lookup treats as the same account (" alice", "ALICE").
    ident = login_identity(form.username)
    user = (
        await users.user_db.get_by_email(ident)
        if "@" in ident
        else await users.user_db.get_by_username(ident)
    )
    secret = ctx.settings.SECRET_KEY
    # A browser this account signed in with, under its current password: a budget of its own.
    device = (
        None
        if user is None
        else read_device(secret, request.cookies.get(DEVICE_COOKIE), user.id, user.hashed_password)
    )
    budgets = login_budgets(
        # the account's id when there is one: its name and its e-mail are one budget
        ident=ident if user is None else str(user.id),
        ip=ip,
        device=device,
        per_minute=ctx.settings.RATE_LIMIT_LOGIN_PER_MINUTE,
        ip_multiplier=ctx.settings.RATE_LIMIT_IP_MULTIPLIER,
    )
    for key, limit in budgets:  # before the password is checked: a refused guess learns nothing
        await enforce(ctx, key, limit=limit, window_s=60)
    if user is None:
        users.password_helper.hash(
            form.password
        )  # same work either way: no user enumeration by timing
        raise ApiError(401, "bad_credentials", "Wrong username or password")
    verified, new_hash = users.password_helper.verify_and_update(
        form.password, user.hashed_password
    )
    if not verified:
        log.info("login failed", extra={"user_id": str(user.id), "ip": ip})
        raise ApiError(401, "bad_credentials", "Wrong username or password")
    if not user.is_active:
        raise ApiError(403, "inactive_user", "This account is disabled")
    if new_hash is not None:
        await users.user_db.update(user, {"hashed_password": new_hash})
    log.info("login", extra={"user_id": str(user.id), "ip": ip, "known_device": device is not None})
    pair = await open_session(
        ctx=ctx, user=user, user_agent=request.headers.get("user-agent"), ip=ip
    )
    response.set_cookie(
        DEVICE_COOKIE,
        device_token(secret, device or new_device(user.id), user.hashed_password),
        max_age=DEVICE_COOKIE_MAX_AGE_S,
        path=DEVICE_COOKIE_PATH,
        secure=ctx.settings.PUBLIC_URL.startswith("https://"),
        httponly=True,
        samesite="strict",
    )
    return deliver(pair, response, transport, days=ctx.settings.REFRESH_TOKEN_DAYS)


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses={401: {"description": "Invalid or reused"}, **_ERRORS},
)
async def refresh(
    users: Users,
    ctx: Ctx,
    ip: ClientIp,
    response: Response,
    body: RefreshIn | None = None,
    transport: TokenTransport = "body",
    cookie: RefreshCookie = None,
) -> TokenPair:
    """Rotate the refresh token: the one in the body (API clients) or, with
    `X-Token-Transport: cookie` and no body, the web app's cookie (answered with a new cookie)."""
    token = presented(body, transport, cookie)
    per_min = ctx.settings.RATE_LIMIT_REFRESH_PER_MINUTE
    await enforce(
        ctx, f"refresh:ip:{ip}", limit=per_min * ctx.settings.RATE_LIMIT_IP_MULTIPLIER, window_s=60
    )
    await enforce(ctx, f"refresh:sess:{token.split('.')[0][:64]}", limit=per_min, window_s=60)
    pair = await refresh_session(ctx=ctx, users=users, token=token)
    return deliver(pair, response, transport, days=ctx.settings.REFRESH_TOKEN_DAYS)


@router.post(
    "/logout", status_code=status.HTTP_204_NO_CONTENT, responses={401: {"description": "Invalid"}}
)
async def logout(
    ctx: Ctx,
    body: RefreshIn | None = None,
    transport: TokenTransport = "body",
    cookie: RefreshCookie = None,
) -> Response:
    """End the session of the refresh token in the body or (`X-Token-Transport: cookie`) the
    cookie. The cookie is cleared whatever its session's state: logging out always works."""
    if transport != "cookie":
        await close_session(ctx=ctx, token=presented(body, transport, cookie))
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    done = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_refresh_cookie(done)
    try:
        await close_session(ctx=ctx, token=presented(body, transport, cookie))
    except (ApiError, DomainError):
        pass  # no cookie, or its session already ended: nothing left to close
    return done


@router.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED, responses=_ERRORS)
async def forgot_password(body: ForgotPasswordIn, ctx: Ctx, ip: ClientIp) -> dict[str, str]:
    per_hour = ctx.settings.RATE_LIMIT_FORGOT_PER_HOUR
    await enforce(
        ctx,
        f"forgot:ip:{ip}",
        limit=per_hour * ctx.settings.RATE_LIMIT_IP_MULTIPLIER,
        window_s=3600,
    )
    await enforce(ctx, f"forgot:acct:{body.email.lower()}", limit=per_hour, window_s=3600)
    # Answer first, work after: the same answer in the same time whether or not the account
    # exists (the lookup and the e-mail took ~120 ms only for known addresses).
    ctx.spawn(request_password_reset(ctx=ctx, email=body.email), name="forgot-password")
    return {"detail": "If that e-mail has an account, a reset link is on its way."}


@router.post("/reset-password", responses=_ERRORS)
async def reset_password(body: ResetPasswordIn, users: Users) -> dict[str, str]:
    try:
        await users.reset_password(body.token, body.password)
    except (fu_exc.InvalidResetPasswordToken, fu_exc.UserNotExists, fu_exc.UserInactive):
        raise ApiError(
            400, "invalid_reset_token", "This reset link is invalid, used or expired"
        ) from None
    except fu_exc.InvalidPasswordException as exc:
        raise ApiError(400, "weak_password", str(exc.reason)) from None
    return {"detail": "Password changed. Sign in with your new password."}
