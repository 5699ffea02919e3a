from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import AgentProcess, FakeControlPlane


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agent-logs")


async def start_agent(
    log_dir: Path, codec: str = "h264", **kw: object
) -> tuple[FakeControlPlane, AgentProcess]:
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(cp, codec=codec, start_url=cp.page_url("anim.html"), **kw)  # type: ignore[arg-type]
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", timeout=45)
    except TimeoutError:
        await agent.stop()
        await cp.stop()
        raise AssertionError("agent never became ready:\n" + agent.log_tail()) from None
    return cp, agent


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
