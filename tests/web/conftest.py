"""The web app end to end: a real control plane (`watchparty serve`, embedded mode, local rooms)
serving the built app, test pages for the room browsers to show, and headless Chromium driven by
Playwright (`/usr/bin/chromium`, fake camera and microphone). The helpers are in
tests/support/web.py and tests/support/browser.py (benches use them too)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.support.backends import base_env
from tests.support.processes import kill_rooms
from tests.support.servers import run_server, static_files
from tests.support.smtp import free_port
from tests.support.web import CHROMIUM_ARGS, DIST, PAGES, SCREENSHOTS, Web, speech_like_wav


@pytest.fixture(scope="session")
def pages_url() -> Iterator[str]:
    with static_files(PAGES) as url:
        yield url


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory, pages_url: str) -> Iterator[Web]:
    if not (DIST / "index.html").is_file():
        pytest.fail("frontend/dist is not built: run `make test` (or `npm run build` in frontend/)")
    tmp = tmp_path_factory.mktemp("web")
    port = free_port()
    deployment = f"web-e2e-{uuid.uuid4().hex[:8]}"
    env = base_env(
        DATA_DIR=tmp / "data",
        ROOM_RUNTIME="local",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        DEPLOYMENT_ID=deployment,
        ROOM_PRESENCE_GRACE_SECONDS="0.5",
        ROOM_CREATES_PER_HOUR="50",
        WEB_DIR=DIST,
    )
    try:
        with run_server(env, log_dir=tmp, migrate=True, port=port) as server:
            yield Web(server=server, pages_url=pages_url, deployment=deployment)
    finally:
        kill_rooms(deployment)


@pytest.fixture(scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    voice = speech_like_wav(tmp_path_factory.mktemp("voice") / "speech.wav")
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={voice}"]
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
