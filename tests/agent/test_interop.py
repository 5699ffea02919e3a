"""Interop with a real browser: headless Chromium (Playwright) negotiates with the agent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.support.agent_browser import INTEROP, check_browser, ensure_playwright

pytestmark = pytest.mark.x11


async def test_headless_chromium_h264(h264_room: Any) -> None:
    await check_browser(h264_room[0], "video/H264")


async def test_headless_chromium_vp8(vp8_room: Any) -> None:
    await check_browser(vp8_room[0], "video/VP8")


async def test_headless_chromium_moves_between_rungs_without_renegotiating(h264_room: Any) -> None:
    """Issue 18: a Chromium viewer caps itself at 360p (0x0B) and its <video> shows 640x360 from
    the 360p rung's keyframe, frames still coming, on the same peer connection; back to Auto, it
    climbs back to 1280x720. Its statuses (0x83) say what it gets and why; its receiver stats
    (0x0C) and its REMB reach its estimate."""
    cp = h264_room[0]
    await ensure_playwright()
    proc = await asyncio.create_subprocess_exec(
        "node",
        "run.mjs",
        cp.page_url("quality.html"),
        "20",
        "0",
        cwd=INTEROP,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 150)
    assert proc.returncode == 0, err.decode()[-2000:]
    res = json.loads(out.decode().strip().splitlines()[-1])
    print(json.dumps({k: v for k, v in res.items() if k != "statuses"}))
    assert res["connection"] == "connected", res
    assert res["to360"] and res["to720"], res
    before, at360, after360, end = res["before"], res["at360"], res["after360"], res["end"]
    assert (before["width"], before["height"]) == (1280, 720)
    assert (after360["width"], after360["height"]) == (640, 360)
    assert (end["width"], end["height"]) == (1280, 720)
    # the picture kept moving through both switches (no renegotiation, no stall; the rate is the
    # busy box's, not checked)
    assert after360["framesDecoded"] - at360["framesDecoded"] >= 5, res
    assert end["framesDecoded"] - res["at720"]["framesDecoded"] >= 5, res
    assert set(res["sizes"]) <= {"1280x720", "854x480", "640x360"}, res["sizes"]
    # statuses: 360p capped by the viewer's own choice, then 720p uncapped
    statuses = res["statuses"]
    capped = [s for s in statuses if (s["w"], s["h"]) == (640, 360)]
    assert any(s["cap"] == 360 and s["flags"] & 2 for s in capped), statuses
    last = statuses[-1]
    assert (last["w"], last["h"], last["cap"], last["flags"]) == (1280, 720, 0, 0), statuses
    assert last["kbps"] > 0
    # the agent saw this viewer's REMB and its page's stats
    hb = await cp.wait_for(lambda m: m["type"] == "heartbeat", 5)
    seen = [
        m["data"]["viewer_quality"]
        for m in cp.messages
        if m["type"] == "heartbeat" and m["data"].get("viewer_quality")
    ]
    chromium = [q for qs in seen for q in qs if q["user"] == "chromium"]
    assert any(q["remb_kbps"] for q in chromium), chromium[-3:]
    assert hb is not None
