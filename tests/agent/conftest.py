from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.agent import AgentProcess, FakeControlPlane, start_agent


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent-logs")


@pytest.fixture(scope="session")
async def h264_room(log_dir: Path) -> AsyncIterator[tuple[FakeControlPlane, AgentProcess]]:
    cp, agent = await start_agent(log_dir, "h264")
    yield cp, agent
    await agent.stop()
    await cp.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def vp8_room(log_dir: Path) -> AsyncIterator[tuple[FakeControlPlane, AgentProcess]]:
    cp, agent = await start_agent(log_dir, "vp8")
    yield cp, agent
    await agent.stop()
    await cp.stop()


@pytest.fixture
def loop_time() -> float:
    return asyncio.get_event_loop().time()
