"""A warm-pool browser handed to a room: what it saw while waiting is gone, the room's start page
is loaded as its first page, and the new host holds the remote. Real Xvfb + Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.agent import AgentProcess, FakeControlPlane

pytestmark = pytest.mark.x11


def _status_of(cp: FakeControlPlane, page: str, title_prefix: str) -> Any:
    def match(m: dict[str, Any]) -> bool:
        d = m["data"]
        return (
            m["type"] == "browser.status"
            and d["url"].endswith(page)
            and d["title"].startswith(title_prefix)
            and not d["loading"]
        )

    return match


async def first_page(cp: FakeControlPlane, page: str) -> dict[str, Any]:
    """The status showing `page` as the browser's first page (nothing to go back to)."""
    msg = await cp.wait_for(
        lambda m: (
            m["type"] == "browser.status"
            and m["data"]["url"].endswith(page)
            and not m["data"]["can_go_back"]
        ),
        10,
        past=True,
    )
    return dict(msg["data"])


@pytest_asyncio.fixture
async def warm(log_dir: Path) -> AsyncIterator[tuple[FakeControlPlane, AgentProcess]]:
    cp = FakeControlPlane(room_id="warm-1")
    cp.auth_extra = {"pooled": True, "start_url": None}
    await cp.start()
    # The warm browser's own page plants a cookie and local storage on the room page's origin:
    # exactly what must not leak into the room it is given to.
    agent = AgentProcess(cp, start_url=cp.page_url("state.html?plant=1"), width=640, height=360)
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", 45)
        await cp.wait_for(_status_of(cp, "state.html?plant=1", "cookie=warm=1;ls=warm"), 20, True)
        yield cp, agent
    finally:
        await agent.stop()
        await cp.stop()


async def test_assigned_browser_forgets_its_wait_and_loads_the_start_page(
    warm: tuple[FakeControlPlane, AgentProcess],
) -> None:
    cp, agent = warm
    await cp.send("room.assigned", {"start_url": cp.page_url("state.html"), "holder_id": "host-1"})
    status = (await cp.wait_for(_status_of(cp, "/state.html", "cookie="), 20))["data"]
    assert status["title"] == "cookie=;ls=null", status  # cookies and storage wiped
    # The start page is the first page: there is nothing to go back to.
    final = await first_page(cp, "/state.html")
    assert final["can_go_forward"] is False
    # A second assignment (a duplicate or a late message) changes nothing.
    before = len(cp.statuses())
    await cp.send("room.assigned", {"start_url": cp.page_url("page2.html"), "holder_id": "x"})
    with pytest.raises(TimeoutError):
        await cp.wait_for(_status_of(cp, "page2.html", ""), 3)
    assert all(not s["url"].endswith("page2.html") for s in cp.statuses()[before:])
    assert "assigned to a room" in agent.log_tail(200)


async def test_assignment_missed_while_reconnecting_is_taken_from_auth_ok(
    warm: tuple[FakeControlPlane, AgentProcess],
) -> None:
    cp, _agent = warm
    # The room was claimed while the agent's channel was down: the next auth.ok says so.
    cp.auth_extra = {"pooled": False, "start_url": cp.page_url("page2.html")}
    assert cp.agent is not None
    await cp.agent.close()
    status = (await cp.wait_for(_status_of(cp, "page2.html", "Page Two"), 30))["data"]
    final = await first_page(cp, "page2.html")
    assert status["url"] == final["url"] == cp.page_url("page2.html")
