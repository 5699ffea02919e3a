"""Whether an access token still stands: well signed and unexpired, its user active, its login
session not revoked. Every REST request asks (`api/deps.py`); room sockets ask at their first
frame, at every later `auth` frame, and every ROOM_WS_AUTH_RECHECK_SECONDS (a password change or
reset revokes sessions, so does logout; an admin deactivates users)."""

from __future__ import annotations

import time
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from controlplane.auth import access_tokens
from controlplane.auth.access_tokens import AccessClaims
from controlplane.models import User
from controlplane.ports import SessionStore


class AccessCheck:
    def __init__(
        self,
        *,
        secret_key: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        session_store: SessionStore,
    ) -> None:
        self._secret_key = secret_key
        self._sessionmaker = sessionmaker
        self._session_store = session_store

    async def verify(
        self, token: str, *, db: AsyncSession | None = None
    ) -> tuple[AccessClaims, User] | None:
        """The token's claims and active user, or None when it does not stand. `db` is the
        session to load the user in: a REST request passes its own, because its route may change
        that user (a user loaded in a session closed here would be detached)."""
        claims = access_tokens.read(secret_key=self._secret_key, token=token)
        if claims is None:
            return None
        user = await self._active_user(claims.user_id, db=db)
        if user is None or not await self._session_open(claims):
            return None
        return claims, user

    async def still_valid(self, claims: AccessClaims) -> bool:
        """Unexpired, the user still active and the session still open."""
        if claims.expires_at <= time.time():
            return False
        return await self._active_user(claims.user_id) is not None and await self._session_open(
            claims
        )

    async def _active_user(
        self, user_id: uuid.UUID, *, db: AsyncSession | None = None
    ) -> User | None:
        if db is not None:
            user = await db.get(User, user_id)
        else:
            async with self._sessionmaker() as s:
                user = await s.get(User, user_id)
        return user if user is not None and user.is_active else None

    async def _session_open(self, claims: AccessClaims) -> bool:
        if claims.session_id is None:  # issued before tokens named their session
            return True
        record = await self._session_store.get(claims.session_id)
        return record is not None and record.user_id == claims.user_id
