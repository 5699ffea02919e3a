"""What the web app's end-to-end tests and the browser benches share: where the built app is,
the headless Chromium's arguments, a fake microphone that speaks, and the `web` deployment."""

from __future__ import annotations

import math
import os
import random
import shutil
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import Server

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "frontend" / "dist"
# The pages the room browsers of tests/web show.
PAGES = REPO / "tests" / "web" / "pages"
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
