"""The encoder ladder with a real agent and real aiortc viewers (issue 18): a viewer whose
receive path is throttled (a token-bucket policer at its receiver drops what exceeds its link)
ends on a lower rung and decodes frames of that size, while a good viewer beside it stays at
1280x720 and gets no keyframe on account of the weak one."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.agent import FakeControlPlane, Viewer
from tests.support.waits import until

pytestmark = pytest.mark.x11


def police(viewer: Viewer, kbps: float, depth_bytes: int) -> dict[str, int]:
    """Drop the video packets (RTX included) that exceed `kbps` at `viewer`'s receiver, as a
    policed downlink would. Returns the counters (passed, dropped)."""
    receiver = viewer.video_receiver
    original = receiver._handle_rtp_packet
    rate = kbps * 125
    state = {"tokens": float(depth_bytes), "at": time.monotonic(), "passed": 0, "dropped": 0}

    async def handle(packet: Any, arrival_time_ms: int) -> None:
        now = time.monotonic()
        state["tokens"] = min(depth_bytes, state["tokens"] + (now - state["at"]) * rate)
        state["at"] = now
        size = len(packet.payload) + 40
        if state["tokens"] < size:
            state["dropped"] += 1
            return
        state["tokens"] -= size
        state["passed"] += 1
        await original(packet, arrival_time_ms=arrival_time_ms)

    receiver._handle_rtp_packet = handle
    return state  # type: ignore[return-value]


def no_remb(viewer: Viewer) -> None:
    setattr(viewer.video_receiver, "_RTCRtpReceiver__remote_bitrate_estimator", None)  # noqa: B010


async def test_a_throttled_viewer_moves_down_and_the_good_one_is_untouched(
    h264_room: tuple[FakeControlPlane, object],
) -> None:
    cp, _ = h264_room
    good, weak = Viewer(cp, "good"), Viewer(cp, "weak")
    await good.connect()
    await weak.connect()
    # An aiortc viewer's REMB measures its own Python loop as much as the link: two of them
    # decoding 720p in this process on a shared box report "queueing" the link does not have.
    # The good viewer sends none (the REMB rule is unit-tested); both send receiver reports.
    no_remb(good)
    try:
        await good.wait_frame(lambda f: True, 10)
        await weak.wait_frame(lambda f: True, 10)
        counters = police(weak, 600, depth_bytes=20_000)
        # down within a few seconds, to a rung whose frames it decodes
        await until(lambda: any(h < 720 for _, _, h, _ in weak.frames), 20, "weak stayed 720p")
        moved = time.monotonic()
        good_keys = sum(1 for *_, key in good.frames if key)
        hb0 = await cp.wait_for(lambda m: m["type"] == "heartbeat", 5)
        requests0 = hb0["data"]["rungs"][0]["keyframe_requests"]
        await until(lambda: time.monotonic() - moved > 8, 10, "")
        hb = (await cp.wait_for(lambda m: m["type"] == "heartbeat", 5))["data"]

        late = [(w, h) for t, w, h, _ in weak.frames if t > moved + 4]
        assert late and all(h < 720 for _, h in late), late[-5:]
        assert all((w, h) in ((854, 480), (640, 360)) for w, h in late)
        assert counters["dropped"] > 0
        # the good viewer: still 1280x720 and moving, not one keyframe more
        recent = [(w, h) for t, w, h, _ in good.frames if t > moved]
        assert len(recent) > 8 * 3 and set(recent) == {(1280, 720)}  # moving (any rate)
        assert sum(1 for *_, key in good.frames if key) == good_keys
        assert hb["rungs"][0]["keyframe_requests"] == requests0
        per_rung = {r["rung"]: r["viewers"] for r in hb["rungs"]}
        assert per_rung["720p"] == 1 and sum(per_rung.values()) == 2
        quality = {q["user"]: q for q in hb["viewer_quality"]}
        assert quality["good"]["rung"] == 720 and quality["weak"]["rung"] < 720
        assert quality["weak"]["estimate_kbps"] < quality["good"]["estimate_kbps"]
    finally:
        await good.close()
        await weak.close()
