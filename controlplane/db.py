"""Async database engine and sessions."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Foreign keys are off by default in SQLite; WAL lets readers run beside the writer.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    # No pre-ping: it costs a round trip on every checkout (a chat message's latency doubled).
    # A connection that died (database restart) fails one statement, after which SQLAlchemy
    # invalidates the whole pool; pool_recycle retires connections before idle timeouts do.
    # Up to 30 connections per process, and one opened is kept: with `pool_size=10,
    # max_overflow=20` every burst of sessions past 10 (socket re-checks, reconnects' snapshots,
    # chat) opened connections that were closed again on return, a PostgreSQL backend started
    # each time (bench/load: 189 new connections in a 1,000-socket step instead of 37, a third
    # more API CPU, docs/performance.md "Sockets per API process").
    return create_async_engine(url, pool_size=30, max_overflow=0, pool_recycle=1800)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
