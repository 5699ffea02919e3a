"""A viewer on a slow link is told so in words, by the real agent: the room page's quality line
shows the rung the agent's quality status (0x83) names and "Your connection is limiting the
picture", while the picture keeps moving.

Real parts: `watchparty serve` (embedded, local rooms), the built web app, and headless Chromium
inside a network namespace whose downlink is capped at 500 kbit/s (`tc tbf`,
tests/support/netns.py), well below the room's top rung. The agent's encoder ladder and its quality
messages (`roomagent.media.quality_wire`) are what it checks.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from tests.support.backends import base_env
from tests.support.browser import frames_in, register, stream_playing
from tests.support.netns import netns_link, shape_downlink
from tests.support.processes import kill_rooms
from tests.support.rooms import create_room
from tests.support.servers import run_server, static_files
from tests.support.smtp import free_port
from tests.support.users import signed_in
from tests.support.web import CHROMIUM_ARGS, DIST, netns_viewer_skip_reason

pytestmark = [pytest.mark.x11, pytest.mark.timeout(300)]

LINK_NET = "10.250.95."
BUSY_PAGES = Path(__file__).resolve().parents[1] / "agent" / "pages"  # busy.html: always moving
CAP_KBPS = 500


async def test_a_viewer_on_a_slow_link_reads_that_its_connection_limits_the_picture(
    tmp_path: Path, screenshots: Path
) -> None:
    if reason := netns_viewer_skip_reason("tc"):
        pytest.skip(reason)
    name = f"wpql{uuid.uuid4().hex[:4]}"
    deployment = f"quality-limited-{uuid.uuid4().hex[:8]}"
    port = free_port()
    with netns_link(name=name, link_net=LINK_NET) as link:
        shape_downlink(link, CAP_KBPS)
        base = f"http://{link.host_ip}:{port}"
        wrapper = tmp_path / "chromium-in-netns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {name} /usr/bin/chromium "$@"\n')
        wrapper.chmod(0o755)
        env = base_env(
            DATA_DIR=tmp_path / "data",
            ROOM_RUNTIME="local",
            PUBLIC_URL=base,
            DEPLOYMENT_ID=deployment,
            WEB_DIR=DIST,
        )
        try:
            with (
                static_files(BUSY_PAGES) as pages_url,
                run_server(env, log_dir=tmp_path, migrate=True, port=port, host="0.0.0.0"),
            ):
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    host = await signed_in(http)
                    room = await create_room(http, host.headers, start_url=f"{pages_url}/busy.html")
                async with async_playwright() as p:
                    args = [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={base}"]
                    browser = await p.chromium.launch(executable_path=str(wrapper), args=args)
                    try:
                        page = await browser.new_page(viewport={"width": 1440, "height": 900})
                        await register(page, base, f"slow{name[-4:]}")
                        await page.goto(f"{base}/room/{room['code']}")
                        await stream_playing(page, within=90)
                        line = page.get_by_label("Connection quality")
                        await expect(line).to_contain_text(
                            "Your connection is limiting the picture", timeout=45_000
                        )
                        text = await line.inner_text()
                        rung = re.search(r"(\d+)p · (\d+) fps", text)
                        assert rung and int(rung.group(1)) < 720, text
                        await page.screenshot(path=screenshots / "room-quality-limited-real.png")
                        assert await frames_in(page, 2000) > 0, "the picture stopped"
                    finally:
                        await browser.close()
        finally:
            kill_rooms(deployment)
