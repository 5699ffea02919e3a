"""Login sessions: open, rotate and close refresh-token sessions."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from controlplane.auth import access_tokens, refresh_tokens
from controlplane.auth.refresh_tokens import TokenCheck
from controlplane.auth.schemas import TokenPair
from controlplane.auth.users import UserManager
from controlplane.context import AppContext
from controlplane.errors import DomainError, Kind
from controlplane.models import User
from controlplane.ports import SessionRecord

log = logging.getLogger(__name__)


def _invalid() -> DomainError:
    return DomainError(
        Kind.unauthenticated, "invalid_refresh_token", "Refresh token is invalid or expired"
    )


async def _pair(
    *, ctx: AppContext, user: User, record: SessionRecord, generation: int
) -> TokenPair:
    access = access_tokens.issue(
        secret_key=ctx.settings.SECRET_KEY,
        user_id=user.id,
        session_id=record.id,
        lifetime_s=ctx.settings.ACCESS_TOKEN_MINUTES * 60,
    )
    refresh = refresh_tokens.issue(
        secret_key=ctx.settings.SECRET_KEY,
        session_id=record.id,
        generation=generation,
        nonce=record.nonce,
    )
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=ctx.settings.ACCESS_TOKEN_MINUTES * 60,
    )


async def open_session(
    *, ctx: AppContext, user: User, user_agent: str | None, ip: str | None
) -> TokenPair:
    now = datetime.now(UTC)
    record = SessionRecord(
        id=uuid.uuid4(),
        user_id=user.id,
        nonce=refresh_tokens.new_nonce(),
        generation=0,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=ctx.settings.REFRESH_TOKEN_DAYS),
        user_agent=(user_agent or "")[:255] or None,
        ip=ip,
    )
    await ctx.session_store.create(record)
    log.info("session opened", extra={"user_id": str(user.id), "session_id": str(record.id)})
    return await _pair(ctx=ctx, user=user, record=record, generation=0)


async def session_for_token(*, ctx: AppContext, token: str) -> tuple[SessionRecord, TokenCheck]:
    parsed = refresh_tokens.parse(token)
    if parsed is None:
        raise _invalid()
    record = await ctx.session_store.get(parsed.session_id)
    if record is None:
        raise _invalid()
    result = refresh_tokens.check(
        token=parsed,
        secret_key=ctx.settings.SECRET_KEY,
        nonce=record.nonce,
        current_generation=record.generation,
    )
    return record, result


async def refresh_session(*, ctx: AppContext, users: UserManager, token: str) -> TokenPair:
    """Rotate: the presented token stops working; a reused one revokes the whole session."""
    record, result = await session_for_token(ctx=ctx, token=token)
    if result is TokenCheck.invalid:
        raise _invalid()
    if result is TokenCheck.reused:
        await ctx.session_store.delete(record.id)
        log.warning(
            "refresh token reused; session revoked",
            extra={"user_id": str(record.user_id), "session_id": str(record.id)},
        )
        raise DomainError(
            Kind.unauthenticated,
            "refresh_token_reused",
            "Refresh token was already used; session revoked",
        )
    user = await users.user_db.get(record.user_id)
    if user is None or not user.is_active:
        await ctx.session_store.delete(record.id)
        raise _invalid()
    now = datetime.now(UTC)
    advanced = await ctx.session_store.advance(
        record.id,
        expected_generation=record.generation,
        used_at=now,
        expires_at=now + timedelta(days=ctx.settings.REFRESH_TOKEN_DAYS),
    )
    if not advanced:
        # Another request rotated this token first: that is a reuse too.
        await ctx.session_store.delete(record.id)
        raise DomainError(
            Kind.unauthenticated,
            "refresh_token_reused",
            "Refresh token was already used; session revoked",
        )
    return await _pair(ctx=ctx, user=user, record=record, generation=record.generation + 1)


async def revoke_other_sessions(
    *, ctx: AppContext, user_id: uuid.UUID, keep: uuid.UUID | None
) -> int:
    """End every session of the user but `keep` (the one asking); returns how many ended. Their
    refresh and access tokens stop working at once, their room sockets at the next re-check."""
    ended = 0
    for record in await ctx.session_store.list_for_user(user_id):
        if record.id != keep and await ctx.session_store.delete(record.id):
            ended += 1
    log.info("other sessions revoked", extra={"user_id": str(user_id), "sessions": ended})
    return ended


async def close_session(*, ctx: AppContext, token: str) -> None:
    record, result = await session_for_token(ctx=ctx, token=token)
    if result is TokenCheck.invalid:
        raise _invalid()
    await ctx.session_store.delete(record.id)
    log.info("session closed", extra={"user_id": str(record.user_id), "session_id": str(record.id)})
