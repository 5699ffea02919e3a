"""Where refresh-token sessions live: SQL in embedded mode, Redis when configured.

Both survive an API restart. `advance` is a compare-and-set on the generation so two concurrent
refreshes with the same token cannot both succeed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from redis.typing import EncodableT
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from controlplane.models import AuthSession
from controlplane.ports import SessionRecord
from controlplane.services.redis_client import RedisClient


def _now() -> datetime:
    return datetime.now(UTC)


class SqlSessionStore:
    def __init__(self, maker: async_sessionmaker[AsyncSession]) -> None:
        self._maker = maker

    async def create(self, record: SessionRecord) -> None:
        async with self._maker() as db:
            db.add(AuthSession(**record.model_dump()))
            await db.commit()

    async def get(self, session_id: uuid.UUID) -> SessionRecord | None:
        async with self._maker() as db:
            row = await db.get(AuthSession, session_id)
            if row is None or row.expires_at <= _now():
                return None
            return SessionRecord.model_validate(row, from_attributes=True)

    async def advance(
        self,
        session_id: uuid.UUID,
        *,
        expected_generation: int,
        used_at: datetime,
        expires_at: datetime,
    ) -> bool:
        async with self._maker() as db:
            result = await db.execute(
                update(AuthSession)
                .where(AuthSession.id == session_id, AuthSession.generation == expected_generation)  # type: ignore[arg-type]
                .values(
                    generation=expected_generation + 1, last_used_at=used_at, expires_at=expires_at
                )
            )
            await db.commit()
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def delete(self, session_id: uuid.UUID) -> bool:
        async with self._maker() as db:
            result = await db.execute(delete(AuthSession).where(AuthSession.id == session_id))  # type: ignore[arg-type]
            await db.commit()
            return result.rowcount == 1  # type: ignore[attr-defined]

    async def list_for_user(self, user_id: uuid.UUID) -> list[SessionRecord]:
        async with self._maker() as db:
            rows = await db.execute(
                select(AuthSession)
                .where(AuthSession.user_id == user_id, AuthSession.expires_at > _now())  # type: ignore[arg-type]
                .order_by(AuthSession.created_at)  # type: ignore[arg-type]
            )
            return [SessionRecord.model_validate(r, from_attributes=True) for r in rows.scalars()]

    async def delete_for_user(self, user_id: uuid.UUID) -> None:
        async with self._maker() as db:
            await db.execute(delete(AuthSession).where(AuthSession.user_id == user_id))  # type: ignore[arg-type]
            await db.commit()


_ADVANCE_SCRIPT = """
local gen = redis.call('HGET', KEYS[1], 'generation')
if not gen or tonumber(gen) ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'generation', tonumber(ARGV[1]) + 1,
           'last_used_at', ARGV[2], 'expires_at', ARGV[3])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
return 1
"""


# KEYS[1] the session's hash; ARGV[1] when it expires (unix time), then field, value pairs.
# A script rather than MULTI (see presence.py's _ADD): never a hash without its expiry.
_CREATE_SCRIPT = """
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIREAT', KEYS[1], ARGV[1])
return 1
"""


class RedisSessionStore:
    """A session is a hash (`wp:sess:<id>`), a user's sessions a set (`wp:sess:user:<id>`):
    different slots on a cluster, so no command or script spans both. The set is written
    first and is only an index: an entry whose hash is gone is tidied when listed, while a
    session missing from it could not be revoked with the others."""

    def __init__(self, redis: RedisClient, *, prefix: str = "wp:sess:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._advance = redis.register_script(_ADVANCE_SCRIPT)
        self._create = redis.register_script(_CREATE_SCRIPT)

    def _key(self, session_id: uuid.UUID) -> str:
        return f"{self._prefix}{session_id}"

    def _user_key(self, user_id: uuid.UUID) -> str:
        return f"{self._prefix}user:{user_id}"

    async def create(self, record: SessionRecord) -> None:
        args: list[EncodableT] = [int(record.expires_at.timestamp())]
        for field, value in record.model_dump(mode="json").items():
            if value is not None:
                args += [field, value]
        await self._redis.sadd(self._user_key(record.user_id), str(record.id))
        await self._create(keys=[self._key(record.id)], args=args)

    async def get(self, session_id: uuid.UUID) -> SessionRecord | None:
        data = await self._redis.hgetall(self._key(session_id))
        if not data:
            return None
        record = SessionRecord.model_validate({_s(k): _s(v) for k, v in data.items()})
        return record if record.expires_at > _now() else None

    async def advance(
        self,
        session_id: uuid.UUID,
        *,
        expected_generation: int,
        used_at: datetime,
        expires_at: datetime,
    ) -> bool:
        ok = await self._advance(
            keys=[self._key(session_id)],
            args=[
                expected_generation,
                used_at.isoformat(),
                expires_at.isoformat(),
                int(expires_at.timestamp()),
            ],
        )
        return bool(ok)

    async def delete(self, session_id: uuid.UUID) -> bool:
        record = await self.get(session_id)
        removed = await self._redis.delete(self._key(session_id))
        if record is not None:
            await self._redis.srem(self._user_key(record.user_id), str(session_id))
        return bool(removed)

    async def list_for_user(self, user_id: uuid.UUID) -> list[SessionRecord]:
        ids = await self._redis.smembers(self._user_key(user_id))
        records = []
        for raw in ids:
            sid = uuid.UUID(_s(raw))
            record = await self.get(sid)
            if record is None:  # expired: tidy the index
                await self._redis.srem(self._user_key(user_id), str(sid))
            else:
                records.append(record)
        return sorted(records, key=lambda r: r.created_at)

    async def delete_for_user(self, user_id: uuid.UUID) -> None:
        ids = await self._redis.smembers(self._user_key(user_id))
        keys = [self._key(uuid.UUID(_s(i))) for i in ids]
        # One DEL on one Redis; on a cluster the client splits it by slot.
        await self._redis.delete(*keys, self._user_key(user_id))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
