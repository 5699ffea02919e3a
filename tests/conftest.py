"""Shared fixtures: a deployment per storage backend and an HTTP client on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from controlplane.main import create_app
from controlplane.settings import Settings
from tests.support.backends import embedded_settings, pg_redis_settings
from tests.support.redis_cluster import RedisClusterServers, redis_cluster

SettingsFactory = Callable[..., Awaitable[Settings]]


@pytest.fixture(params=["embedded", "pg_redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """Runs a test once on embedded defaults (SQLite, in-process) and once on PostgreSQL + Redis."""
    return str(request.param)


@pytest.fixture
def settings_factory(backend: str, tmp_path: Path) -> SettingsFactory:
    async def make(**overrides: Any) -> Settings:
        if backend == "embedded":
            return await embedded_settings(tmp_path / "data", **overrides)
        return await pg_redis_settings(**overrides)

    return make


@pytest.fixture
async def settings(settings_factory: SettingsFactory) -> Settings:
    return await settings_factory()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="session")
def redis_cluster_servers() -> Iterator[RedisClusterServers]:
    """One real 3-master Redis Cluster for the whole run, started by the first test that asks
    for it (the contract tests' "cluster" parameter); each test flushes it first."""
    with redis_cluster() as servers:
        yield servers
