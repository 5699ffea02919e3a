"""The warm pool with real browsers (local runtime): a new room is a warm browser handed over,
live at once with the room's start page; the pool refills; nothing is left behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from controlplane.models import Room
from controlplane.rooms import warm_pool
from tests.support.backends import pg_redis_settings, settings_for
from tests.support.processes import gone_within, room_processes
from tests.support.rooms import create_room, live_server, room_socket
from tests.support.servers import static_files
from tests.support.smtp import free_port
from tests.support.users import signed_in
from tests.support.viewer import HubViewer

pytestmark = pytest.mark.x11

PAGES = Path(__file__).resolve().parents[1] / "agent" / "pages"
GREEN = (0, 160, 0)  # page2.html's background


@pytest.fixture
def pages() -> Iterator[str]:
    with static_files(PAGES) as url:
        yield url


async def pool_ready(ctx: Any, want: int, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while (await warm_pool.size(ctx=ctx))["ready"] < want:
        assert time.monotonic() < deadline, await warm_pool.size(ctx=ctx)
        await asyncio.sleep(0.2)


async def pooled_ids(ctx: Any) -> set[str]:
    async with ctx.sessionmaker() as s:
        rows = await s.execute(
            select(col(Room.id)).where(col(Room.pooled) == True, col(Room.status) == "ready")  # noqa: E712
        )
        return {str(r) for r in rows.scalars()}


async def test_warm_room_is_live_at_once_with_its_start_page_and_the_pool_refills(pages):
    port = free_port()
    settings = await settings_for(pg_redis_settings, ROOM_WARM_POOL=1)
    page = f"{pages}/page2.html"
    async with live_server(settings, runtime=False, port=port) as live:
        ctx = live.app.state.ctx
        try:
            await pool_ready(ctx, 1)
            (warm_id,) = await pooled_ids(ctx)
            host = await signed_in(live.http)
            t0 = time.monotonic()
            room = await create_room(live.http, host.headers, start_url=page)
            created = time.monotonic() - t0
            # The warm browser became this room: already ready, same processes.
            assert room["id"] == warm_id and room["status"] == "ready"
            assert room_processes(settings.deployment_id, warm_id)
            sock = await room_socket(live.ws_url, room["code"], host.access_token)
            state = sock.of_type("room.state")[-1]["data"]
            viewer = HubViewer(sock, ice_servers=state["ice_servers"])
            await viewer.connect()
            shown = await viewer.wait_colour(GREEN, within=20) - t0
            # The start page is the room's first page: nothing to go back to.
            first_page = {"url": page, "loading": False, "can_go_back": False}
            seen = [state["browser"] or {}] + [m["data"] for m in sock.of_type("browser.status")]
            if not any(first_page.items() <= s.items() for s in seen):
                await sock.expect("browser.status", **first_page, within=10)
            print(
                f"warm room: created in {created:.2f} s, start page on screen after {shown:.2f} s"
            )

            # The pool refills with a new browser while the room lives on.
            await pool_ready(ctx, 1)
            assert warm_id not in await pooled_ids(ctx)
            await viewer.close()
            resp = await live.http.post(f"/api/rooms/{room['code']}/end", headers=host.headers)
            assert resp.status_code == 200
            left = await asyncio.to_thread(gone_within, settings.deployment_id, warm_id, 15)
            assert left == []
            await sock.close()
        finally:
            # Rooms (warm ones too) outlive the API by design: stop what this test started.
            for info in await ctx.runtime.list_managed():
                await ctx.runtime.stop(runtime_ref=info.runtime_ref)
    assert await ctx.runtime.list_managed() == []
