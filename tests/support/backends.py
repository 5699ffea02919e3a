"""The two storage backends every API test runs against: embedded and PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from controlplane.migrate import upgrade_head
from controlplane.settings import Settings
from tests.support.smtp import free_port

PG_URL = os.environ.get(
    "WP_TEST_DATABASE_URL",
    "postgresql+asyncpg://watchparty:watchparty@127.0.0.1:5432/watchparty_test",
)
REDIS_URL = os.environ.get("WP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
TABLES = [
    "browser_profiles",
    "queue_entries",
    "messages",
    "room_participants",
    "rooms",
    "auth_sessions",
    "users",
]


def base_env(**overrides: Any) -> dict[str, Any]:
    """Environment for a test deployment (also handed to server subprocesses)."""
    env: dict[str, Any] = {
        "ENVIRONMENT": "test",
        "SECRET_KEY": TEST_SECRET,
        "AGENT_SECRET_KEY": TEST_SECRET,
        "PROFILE_SECRET_KEY": TEST_SECRET,
        "ROOM_ALLOW_PRIVATE_URLS": "true",
        # No real browsers unless a test asks for them (they are heavy on a 2-core machine).
        "ROOM_RUNTIME": "none",
        # The least Argon2id allows: a production-cost hash is 0.2 s of CPU, and the suite
        # signs up and in a few thousand times (tests/unit/test_passwords.py covers the cost).
        "PASSWORD_HASH_MEMORY_KIB": "1024",
        "PASSWORD_HASH_TIME_COST": "1",
    }
    env.update(overrides)
    return env


def make_settings(**env: Any) -> Settings:
    return Settings(_env_file=None, **base_env(**env))  # type: ignore[call-arg]


async def migrate(settings: Settings) -> None:
    # Alembic's env runs its own event loop: keep it off ours.
    await asyncio.to_thread(upgrade_head, settings)


# One SQLite database migrated to head per run; each embedded test gets a copy of it. Alembic
# from an empty file costs ~0.3 s (1-2 s on a busy box) and a few hundred tests start embedded.
_sqlite_template = tempfile.TemporaryDirectory(prefix="wp-sqlite-template-")
_sqlite_template_db: Path | None = None


def _sqlite_file(settings: Settings) -> Path:
    return Path(settings.database_url.removeprefix("sqlite+aiosqlite:///"))


def _copy_sqlite(source: Path, target: Path) -> None:
    # The backup API copies a consistent database whatever journal mode the source was left in.
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


async def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for the embedded backend with a database at head under `data_dir`: a copy of
    the run's one migrated template (the schema the same migrations would make)."""
    global _sqlite_template_db
    settings = make_settings(DATA_DIR=data_dir, **overrides)
    own_file = settings.database_url == make_settings(DATA_DIR=data_dir).database_url
    if not settings.is_sqlite or not own_file:
        await migrate(settings)
        return settings
    if _sqlite_template_db is None:
        template = make_settings(DATA_DIR=Path(_sqlite_template.name))
        await migrate(template)
        _sqlite_template_db = _sqlite_file(template)
    await asyncio.to_thread(_copy_sqlite, _sqlite_template_db, _sqlite_file(settings))
    return settings


_pg_migrated = False


async def pg_redis_settings(**overrides: Any) -> Settings:
    """Settings for PostgreSQL + Redis, both emptied first (schema migrated once per run)."""
    global _pg_migrated
    settings = make_settings(DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL, **overrides)
    if not _pg_migrated:
        await migrate(settings)
        _pg_migrated = True
    engine = create_async_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    finally:
        await engine.dispose()
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
    return settings


async def settings_for(settings_factory: Any, **extra: Any) -> Any:
    # A fixed agent port: a restarted server is found again by the agents of its rooms.
    return await settings_factory(
        ROOM_RUNTIME="local",
        AGENT_PORT=free_port(),
        ROOM_PRESENCE_GRACE_SECONDS=0.2,
        REAPER_INTERVAL_SECONDS=3600,
        **extra,
    )
