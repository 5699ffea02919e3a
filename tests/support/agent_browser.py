"""A headless Chromium viewer of a room agent (tests/agent/pages/viewer.html driven by
tests/agent/interop/run.mjs through Playwright): what it decoded, by its own `getStats()`."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from typing import Any

import pytest

from tests.support.agent import ROOT, FakeControlPlane

INTEROP = ROOT / "tests" / "agent" / "interop"


async def ensure_playwright() -> None:
    if (INTEROP / "node_modules" / "playwright-core").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is required for the interop test")
    proc = await asyncio.create_subprocess_exec(
        npm,
        "install",
        "--no-audit",
        "--no-fund",
        cwd=INTEROP,
        env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
    )
    assert await proc.wait() == 0, "npm install failed"


async def browser_view(
    cp: FakeControlPlane, seconds: int = 20, min_frames: int = 30
) -> dict[str, Any]:
    await ensure_playwright()
    proc = await asyncio.create_subprocess_exec(
        "node",
        "run.mjs",
        cp.page_url("viewer.html"),
        str(seconds),
        str(min_frames),
        cwd=INTEROP,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()[-2000:]
    return json.loads(out.decode().strip().splitlines()[-1])


async def check_browser(cp: FakeControlPlane, mime: str, min_frames: int = 30) -> None:
    res = await browser_view(cp, min_frames=min_frames)
    a, b = res["a"], res["b"]
    assert res["connection"] == "connected" and res["inputState"] == "open", res
    assert b["codec"] == mime, b
    assert (b["width"], b["height"]) == (1280, 720), b
    print(json.dumps(res))
    # frames advance (the page samples until min_frames more were shown, or 20 s: no timing)
    assert b["keyFramesDecoded"] >= 1 and b["framesDecoded"] > a["framesDecoded"], res
    assert b["frames"] - a["frames"] >= min_frames, res  # getVideoPlaybackQuality advances
    assert b["rvfc"] - a["rvfc"] >= min_frames - 1, res  # requestVideoFrameCallback fires
    assert b["audioBytes"] > a["audioBytes"] > 0, res
