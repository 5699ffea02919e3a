"""The refresh-session store's contract, run against every implementation (SQL, one Redis, a
real 3-master Redis Cluster): what `auth/sessions.py` relies on, in particular the generation's
compare-and-set and revoking all of a user's sessions, whose keys lie in different slots of a
cluster."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from controlplane.auth.session_store import RedisSessionStore, SqlSessionStore
from controlplane.db import make_engine, make_sessionmaker
from controlplane.models import User
from controlplane.ports import SessionRecord, SessionStore
from tests.support.backends import REDIS_URL, embedded_settings
from tests.support.redis_cluster import cluster_client

USER = uuid.UUID("7a000000-0000-0000-0000-000000000001")


@pytest.fixture(params=["sql", "redis", "cluster"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SessionStore]:
    if request.param == "sql":
        settings = await embedded_settings(tmp_path / "data")
        engine = make_engine(settings.database_url)
        maker = make_sessionmaker(engine)
        async with maker() as db:  # sessions belong to an account (a foreign key)
            db.add(User(id=USER, email="s@example.com", username="s", hashed_password="x"))
            await db.commit()
        yield SqlSessionStore(maker)
        await engine.dispose()
        return
    if request.param == "cluster":
        redis = await cluster_client(request.getfixturevalue("redis_cluster_servers"))
        yield RedisSessionStore(redis)
        await redis.aclose()
        return
    plain = Redis.from_url(REDIS_URL)
    await plain.flushdb()
    yield RedisSessionStore(plain)
    await plain.aclose()


def record(created_minutes_ago: int = 0) -> SessionRecord:
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=created_minutes_ago)
    return SessionRecord(
        id=uuid.uuid4(),
        user_id=USER,
        nonce=uuid.uuid4().hex,
        generation=0,
        created_at=now,
        last_used_at=now,
        expires_at=now + timedelta(days=7),
        user_agent="test",
    )


async def test_a_session_is_kept_and_advanced_only_from_its_current_generation(store):
    rec = record()
    await store.create(rec)
    got = await store.get(rec.id)
    assert got is not None and (got.id, got.user_id, got.generation) == (rec.id, USER, 0)
    later = rec.expires_at + timedelta(days=1)
    used = rec.last_used_at + timedelta(minutes=1)
    assert await store.advance(rec.id, expected_generation=0, used_at=used, expires_at=later)
    # The same token presented twice (two concurrent refreshes): only one wins.
    assert not await store.advance(rec.id, expected_generation=0, used_at=used, expires_at=later)
    got = await store.get(rec.id)
    assert got is not None and got.generation == 1 and got.expires_at == later
    assert await store.get(uuid.uuid4()) is None


async def test_a_users_sessions_are_listed_oldest_first_and_revoked_together(store):
    older, newer = record(created_minutes_ago=5), record()
    await store.create(newer)
    await store.create(older)
    assert [r.id for r in await store.list_for_user(USER)] == [older.id, newer.id]
    assert await store.delete(older.id) is True
    assert await store.delete(older.id) is False
    assert [r.id for r in await store.list_for_user(USER)] == [newer.id]
    third = record()
    await store.create(third)
    await store.delete_for_user(USER)
    assert await store.list_for_user(USER) == []
    assert await store.get(newer.id) is None and await store.get(third.id) is None
