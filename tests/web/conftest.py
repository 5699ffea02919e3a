"""The web app end to end: a real control plane (`watchparty serve`, embedded mode, local rooms)
serving the built app, test pages for the room browsers to show, and headless Chromium driven by
Playwright (`/usr/bin/chromium`, fake camera and microphone)."""

from __future__ import annotations

import math
import os
import random
import shutil
import struct
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.support.backends import base_env
from tests.support.processes import kill_rooms
from tests.support.servers import Server, run_server, static_files
from tests.support.smtp import free_port

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "frontend" / "dist"


def netns_viewer_skip_reason(*tools: str) -> str | None:
    """Why a test with a Chromium viewer in a network namespace cannot run here (root, `ip`,
    the given tools, Chromium, the built web app), or None."""
    if os.geteuid() != 0:
        return "network namespaces, tc and iptables need root"
    for tool in ("ip", *tools, "/usr/bin/chromium"):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    if not (DIST / "index.html").is_file():
        return "frontend/dist is not built (npm run build in frontend/)"
    return None


PAGES = Path(__file__).resolve().parent / "pages"
SCREENSHOTS = Path(os.environ.get("WP_SCREENSHOTS", REPO / "var" / "screenshots"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


@dataclass
class Web:
    server: Server
    pages_url: str
    deployment: str

    @property
    def url(self) -> str:
        return self.server.url

    def page(self, name: str) -> str:
        return f"{self.pages_url}/{name}"


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


def speech_like_wav(path: Path, seconds: float = 12.0, rate: int = 48_000) -> Path:
    """Syllable-like bursts (a voiced tone whose pitch and loudness vary, with pauses) for the
    fake microphones. Chromium's default fake input is one steady beep, which its noise
    suppression learns as background noise and removes after a while: no one would ever speak."""
    rng = random.Random(7)
    samples: list[int] = []
    while len(samples) < seconds * rate:
        burst = int(rate * rng.uniform(0.12, 0.3))
        f0 = rng.uniform(110, 260)
        loud = rng.uniform(0.25, 0.6)
        for i in range(burst):
            env = math.sin(math.pi * i / burst)
            v = sum(math.sin(2 * math.pi * f0 * k * i / rate) / k for k in range(1, 6))
            samples.append(int(32767 * max(-1.0, min(1.0, loud * env * v / 2))))
        samples.extend([0] * int(rate * rng.uniform(0.08, 0.35)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


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
