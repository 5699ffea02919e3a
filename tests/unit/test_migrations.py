"""The same Alembic revisions build the schema on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import controlplane.models  # noqa: F401
from controlplane.migrate import alembic_config
from tests.support.backends import PG_URL


def _tables(url: str) -> set[str]:
    import asyncio

    async def read() -> set[str]:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return names

    return asyncio.run(read())


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    # A database of its own, so the test suite's shared one is not touched.
    import asyncio

    from sqlalchemy import text

    async def recreate() -> None:
        engine = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text("DROP DATABASE IF EXISTS watchparty_migrations"))
            await conn.execute(text("CREATE DATABASE watchparty_migrations"))
        await engine.dispose()

    asyncio.run(recreate())
    return PG_URL.rsplit("/", 1)[0] + "/watchparty_migrations"


def test_upgrade_check_downgrade_upgrade(scratch_url: str) -> None:
    cfg = alembic_config(scratch_url)
    command.upgrade(cfg, "head")
    assert set(SQLModel.metadata.tables) <= _tables(scratch_url)
    command.check(cfg)  # raises if the models drifted from the revisions
    command.downgrade(cfg, "base")
    assert _tables(scratch_url) <= {"alembic_version"}
    command.upgrade(cfg, "head")
    assert set(SQLModel.metadata.tables) <= _tables(scratch_url)
