"""Several API server processes on one real PostgreSQL + Redis (tests/realtime/test_multiprocess.py,
bench/chat_latency.py, bench/remote_handoff.py): a database and Redis db of their own, a server
process each, and the rooms their fake runtime "started"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.backends import PG_URL, REDIS_URL, TABLES, base_env, make_settings, migrate
from tests.support.rooms import Started
from tests.support.servers import Server, _wait_healthy, stop, stop_all
from tests.support.smtp import free_port
from tests.support.users import SignedIn, signed_in


async def fresh_user(http: httpx.AsyncClient) -> SignedIn:
    return await signed_in(http, username=f"mp{uuid.uuid4().hex[:12]}")


# A database and Redis db of their own: other suites empty the shared test database while they
# run, which must not pull users out from under server processes here. Named after the test
# database (watchparty_test -> watchparty_test_realtime), so checkouts that set their own
# WP_TEST_DATABASE_URL do not share (and migrate) one realtime database; WP_TEST_MP_REDIS_URL
# moves the Redis db off 14 where that is another suite's.
MP_DB_NAME = PG_URL.rsplit("/", 1)[1] + "_realtime"
MP_PG_URL = PG_URL.rsplit("/", 1)[0] + "/" + MP_DB_NAME
MP_REDIS_URL = os.environ.get("WP_TEST_MP_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + "/14")
_mp_migrated = False


async def fresh_backends() -> None:
    """Create (once), migrate and empty the realtime test database; empty its Redis db."""
    await fresh_database()
    redis = Redis.from_url(MP_REDIS_URL)
    await redis.flushdb()
    await redis.aclose()


async def fresh_database() -> None:
    """Create (once), migrate and empty the realtime test database (bench/load.py brings a
    Redis of its own)."""
    global _mp_migrated
    if not _mp_migrated:
        admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": MP_DB_NAME}
            )
            if not exists:
                await conn.execute(text(f'CREATE DATABASE "{MP_DB_NAME}"'))
        await admin.dispose()
        await migrate(make_settings(DATABASE_URL=MP_PG_URL, REDIS_URL=MP_REDIS_URL))
        _mp_migrated = True
    engine = create_async_engine(MP_PG_URL)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    await engine.dispose()


def _spawn_api_server(
    log_dir: Path,
    runtime_dir: Path,
    port: int | None = None,
    *,
    chat_rate: int = 10,
    env: dict[str, str] | None = None,
) -> Server:
    port = port or free_port()
    agent_port = free_port()
    server_env = base_env(
        DATABASE_URL=MP_PG_URL,
        REDIS_URL=MP_REDIS_URL,
        ROOM_PRESENCE_GRACE_SECONDS="0.3",
        WP_TEST_RUNTIME_DIR=str(runtime_dir),
        LOG_LEVEL="WARNING",
        ROOM_CHAT_RATE_COUNT=str(chat_rate),
    )
    server_env.update(env or {})
    log_path = log_dir / f"server-{port}-{uuid.uuid4().hex[:6]}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                *[sys.executable, "-m", "tests.support.app_server", "--port", str(port)],
                *["--agent-port", str(agent_port)],
            ],
            env={**os.environ, **{k: str(v) for k, v in server_env.items()}},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
        )
    return Server(port=port, process=process, log_path=log_path, agent_port=agent_port)


@contextmanager
def api_server(
    log_dir: Path,
    runtime_dir: Path,
    port: int | None = None,
    *,
    chat_rate: int = 10,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """One API process on the realtime database and Redis db (`env` adds or overrides
    settings, e.g. REDIS_URL for a Redis of the caller's own, or REDIS_URL, REDIS_CLUSTER and
    CELERY_BROKER_URL of a Redis Cluster)."""
    server = _spawn_api_server(log_dir, runtime_dir, port, chat_rate=chat_rate, env=env)
    try:
        _wait_healthy(server, timeout=60)
        yield server
    finally:
        stop(server)


@contextmanager
def api_servers(
    count: int,
    log_dir: Path,
    runtime_dir: Path,
    *,
    chat_rate: int = 10,
    env: dict[str, str] | None = None,
) -> Iterator[list[Server]]:
    """`count` API processes as `api_server` starts one, started side by side (each spends
    seconds importing the app) and stopped side by side (each drains for a few)."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(_spawn_api_server(log_dir, runtime_dir, chat_rate=chat_rate, env=env))
        for server in servers:
            _wait_healthy(server, timeout=60)
        yield servers
    finally:
        stop_all(servers)


def started(runtime_dir: Path, code: str) -> Started:
    d = json.loads((runtime_dir / f"{code}.json").read_text())
    return Started(uuid.UUID(d["room_id"]), code, d["secret"], None)
