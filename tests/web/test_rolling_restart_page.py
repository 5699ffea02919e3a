"""Issue 23: the room page across a rolling upgrade of the API. Two API processes (PostgreSQL +
Redis, the built web app) behind a load balancer (tests/support/balancer.py, as a Service in
front of pods); each in turn gets SIGTERM and is replaced. The page's socket is moved with 1012
and reconnects at once: no error and no "Reconnecting…" is ever shown (a MutationObserver in
the page records every one, however briefly), and the chat said before and after is there.

Real parts: the API processes, the built web app, headless Chromium."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.balancer import balancer
from tests.support.browser import register, send_chat
from tests.support.cluster import api_server, fresh_backends
from tests.support.servers import Server
from tests.support.waits import retried
from tests.support.web import DIST

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]

# Every [role=alert] and every "Reconnecting" the page shows, from when it is installed.
WATCH_JS = """() => {
  window.__shown = [];
  const look = () => {
    for (const el of document.querySelectorAll('[role="alert"]'))
      if (el.textContent.trim()) window.__shown.push('alert: ' + el.textContent.trim());
    if (document.body.innerText.includes('Reconnecting')) window.__shown.push('Reconnecting');
  };
  const all = {subtree: true, childList: true, characterData: true};
  new MutationObserver(look).observe(document.body, all);
  look();
}"""


async def _stopped(server: Server, within: float = 60) -> None:
    began = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    while server.process.poll() is None:
        assert time.monotonic() - began < within, f"{server.url} still running"
        await asyncio.sleep(0.05)


async def test_the_room_page_shows_no_error_across_a_rolling_restart(
    browser: Browser, tmp_path: Path
) -> None:
    if not (DIST / "index.html").is_file():
        pytest.fail("frontend/dist is not built: run `make test` (or `npm run build` in frontend/)")
    await fresh_backends()
    runtime_dir = tmp_path / "runtime"
    runtime_dir.mkdir()
    async with balancer([]) as lb:
        env = {
            "WEB_DIR": str(DIST),
            "PUBLIC_URL": lb.url,
            "SHUTDOWN_DRAIN_SECONDS": "1",
            "ROOM_PRESENCE_GRACE_SECONDS": "3",
            # no agent ever connects here: the room stays "starting" (not failed) meanwhile
            "ROOM_START_TIMEOUT_SECONDS": "600",
        }
        with ExitStack() as stack:

            def start() -> Server:
                return stack.enter_context(api_server(tmp_path, runtime_dir, env=env))

            serving = [start(), start()]
            lb.backends[:] = [s.port for s in serving]
            ctx = await browser.new_context(viewport={"width": 1440, "height": 900})
            try:
                page = await ctx.new_page()
                await register(page, lb.url, f"roll{uuid.uuid4().hex[:8]}")
                await page.get_by_label("Room title").fill("Rolling")
                await page.get_by_role("button", name="Create room").click()
                await page.wait_for_url("**/room/*", timeout=15_000)
                # the first send may find the socket still connecting (the text then stays)
                await retried(lambda: send_chat(page, "before the upgrade"), what="first chat")
                await page.evaluate(WATCH_JS)
                for _ in range(2):  # the oldest process goes, a new one takes its place
                    old = serving.pop(0)
                    lb.backends.remove(old.port)  # the Service stops sending it connections
                    await _stopped(old)
                    serving.append(await asyncio.to_thread(start))
                    lb.backends.append(serving[-1].port)
                    await asyncio.sleep(1.0)
                await send_chat(page, "after the upgrade")
                chat = page.get_by_role("log", name="Chat")
                await expect(chat).to_contain_text("before the upgrade")
                assert await page.evaluate("window.__shown") == []
            finally:
                await ctx.close()
