"""The signed-in user: profile, password, sessions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status
from fastapi_users import exceptions as fu_exc

from controlplane.api.deps import Ctx, CurrentSessionId, CurrentUser, DbSession, Users, enforce
from controlplane.api.errors import ApiError
from controlplane.auth.schemas import MeUpdateIn, SessionOut, UserRead, UserUpdate
from controlplane.auth.sessions import revoke_other_sessions
from controlplane.rooms import profiles
from controlplane.rooms.schemas import BrowserProfilePublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserRead, responses={401: {"description": "Not signed in"}})
async def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user, from_attributes=True)


@router.patch(
    "/me",
    response_model=UserRead,
    responses={
        400: {"description": "Bad input"},
        401: {"description": "Not signed in"},
        409: {"description": "Taken"},
        429: {"description": "Too many wrong current passwords"},
    },
)
async def update_me(
    body: MeUpdateIn, user: CurrentUser, users: Users, ctx: Ctx, current: CurrentSessionId
) -> UserRead:
    """A new password ends every other session of the user (their access and refresh tokens at
    once, their room sockets at the next re-check); the one asking stays signed in."""
    sensitive = body.password is not None or (
        body.email is not None and body.email.lower() != user.email.lower()
    )
    if sensitive:
        if body.current_password is None:
            raise ApiError(
                400,
                "current_password_required",
                "Changing e-mail or password needs your current password",
            )
        # Throttled like login: with a stolen 15-minute token this is a password oracle.
        # Every check is counted per user before the password is looked at (counting only the
        # wrong ones afterwards let parallel requests all pass the check before the first was
        # counted); past RATE_LIMIT_LOGIN_PER_MINUTE of them every check is refused (the right
        # password too) until the minute ends.
        limit = ctx.settings.RATE_LIMIT_LOGIN_PER_MINUTE
        await enforce(ctx, f"pwcheck:user:{user.id}", limit=limit, window_s=60)
        ok, _ = users.password_helper.verify_and_update(body.current_password, user.hashed_password)
        if not ok:
            raise ApiError(400, "bad_current_password", "Current password is wrong")
    if body.username is not None and body.username.lower() != user.username.lower():
        if await users.user_db.get_by_username(body.username) is not None:
            raise ApiError(409, "username_taken", "That username is taken")
    update = UserUpdate(**body.model_dump(exclude_none=True, exclude={"current_password"}))
    try:
        updated = await users.update(update, user, safe=True)
    except fu_exc.UserAlreadyExists:
        raise ApiError(409, "email_taken", "An account with that e-mail already exists") from None
    except fu_exc.InvalidPasswordException as exc:
        raise ApiError(400, "weak_password", str(exc.reason)) from None
    if body.password is not None:
        await revoke_other_sessions(ctx=ctx, user_id=user.id, keep=current)
    return UserRead.model_validate(updated, from_attributes=True)


@router.get(
    "/me/sessions",
    response_model=list[SessionOut],
    responses={401: {"description": "Not signed in"}},
)
async def list_sessions(user: CurrentUser, ctx: Ctx) -> list[SessionOut]:
    records = await ctx.session_store.list_for_user(user.id)
    return [SessionOut.model_validate(r, from_attributes=True) for r in records]


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {"description": "Not signed in"}, 404: {"description": "No such session"}},
)
async def revoke_session(session_id: uuid.UUID, user: CurrentUser, ctx: Ctx) -> Response:
    record = await ctx.session_store.get(session_id)
    if record is None or record.user_id != user.id:
        raise ApiError(404, "session_not_found", "No such session")
    await ctx.session_store.delete(session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me/profile",
    response_model=BrowserProfilePublic,
    responses={401: {"description": "Not signed in"}},
)
async def read_browser_profile(user: CurrentUser, db: DbSession) -> BrowserProfilePublic:
    """Whether a browser profile is saved for you ("Keep my browser profile"), and its size."""
    found = await profiles.info(session=db, user_id=user.id)
    if found is None:
        return BrowserProfilePublic(saved=False)
    return BrowserProfilePublic(saved=True, bytes=found.bytes, updated_at=found.updated_at)


@router.delete(
    "/me/profile",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: {"description": "Not signed in"}},
)
async def forget_browser_profile(user: CurrentUser, db: DbSession) -> Response:
    """ "Forget my browser profile": the saved cookies and local storage are deleted (also when
    there were none)."""
    await profiles.forget(session=db, user_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
