"""Issue 12 behaviour: a real agent marks its video "show at once" (RTP playout-delay 0/0) while
the room is silent and hands timing back to the viewer's browser (lip sync) while it sounds;
only viewers that offer the extension get it, and Chromium takes it (media/playout.py)."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiortc.rtp import unpack_header_extensions
from roomagent.media.playout import IMMEDIATE, SYNCED, PlayoutLimits
from roomagent.media.playout_extension import URI, decode_limits

from tests.support.agent import AgentProcess, Cdp, FakeControlPlane, Viewer
from tests.support.agent_browser import check_browser
from tests.support.waits import until

pytestmark = pytest.mark.x11

EXT_ID = 5  # the id Chromium gives the extension in its offers


def offer_the_extension(sdp: str) -> str:
    """Offer playout-delay on the video m-line, as Chromium does (aiortc's own offer lacks it)."""
    head, video = sdp.split("m=video", 1)
    video, rest = video.split("m=audio", 1)
    video = video.replace("a=mid:", f"a=extmap:{EXT_ID} {URI}\r\na=mid:", 1)
    return f"{head}m=video{video}m=audio{rest}"


def limits_in(packet: bytes) -> PlayoutLimits | None:
    """The playout-delay limits a raw (decrypted) RTP packet carries, if any."""
    if not packet[0] & 0x10:
        return None
    at = 12 + 4 * (packet[0] & 0x0F)
    profile, words = struct.unpack_from("!HH", packet, at)
    for x_id, value in unpack_header_extensions(profile, packet[at + 4 : at + 4 + 4 * words]):
        if x_id == EXT_ID:
            return decode_limits(value)
    return None


class Spy:
    """Every RTP packet a viewer receives: how many, and the last playout limits seen."""

    def __init__(self, viewer: Viewer) -> None:
        self.packets = 0
        self.marked = 0
        self.last: PlayoutLimits | None = None
        transport = viewer.video_receiver.transport
        inner = transport._handle_rtp_data

        async def spy(data: bytes, arrival_time_ms: int) -> None:
            self.packets += 1
            seen = limits_in(data)
            if seen is not None:
                self.marked += 1
                self.last = seen
            await inner(data, arrival_time_ms)

        transport._handle_rtp_data = spy

    async def carries(self, limits: PlayoutLimits, within: float) -> None:
        """Wait until packets arriving from now on carry `limits`."""
        self.last = None
        await until(lambda: self.last == limits, within, f"video never carried {limits}")


Room = tuple[FakeControlPlane, AgentProcess]


@pytest.fixture
async def silent_room(log_dir: Path) -> AsyncIterator[Room]:
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(
        cp, start_url=cp.page_url("anim.html?tone=0"), extra_env={"WP_SYNC_HOLD_S": "1"}
    )
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", timeout=45)
        yield cp, agent
    finally:
        await agent.stop()
        await cp.stop()


async def heartbeat_where(cp: FakeControlPlane, **want: Any) -> dict[str, Any]:
    msg = await cp.wait_for(
        lambda m: m["type"] == "heartbeat" and all(m["data"].get(k) == v for k, v in want.items()),
        15,
    )
    return dict(msg["data"])


async def test_silence_shows_at_once_sound_hands_timing_back(silent_room: Room) -> None:
    cp, agent = silent_room
    viewer = Viewer(cp, "alice")
    viewer.munge_offer = offer_the_extension
    await viewer.connect()
    assert f"a=extmap:{EXT_ID} {URI}" in viewer.answer_sdp.split("m=audio")[0]
    spy = Spy(viewer)
    plain = Viewer(cp, "bob")  # offers no playout-delay: its video carries none
    await plain.connect()
    plain_spy = Spy(plain)
    try:
        await viewer.wait_frame(lambda f: True, 15)
        await plain.wait_frame(lambda f: True, 15)
        # a silent page: every frame is to be shown as soon as it is decoded
        await spy.carries(IMMEDIATE, 5)
        await heartbeat_where(cp, video_playout="immediate", playout_delay_viewers=1, viewers=2)
        # the page starts a tone: the viewer's browser times the video again, for lip sync
        cdp = Cdp(agent.cdp_port)
        await cdp.evaluate("startTone()")
        await spy.carries(SYNCED, 5)
        await heartbeat_where(cp, video_playout="synced")
        # the tone stops: after WP_SYNC_HOLD_S (1 s) of silence, at once again
        await cdp.evaluate("stopTone()")
        await spy.carries(IMMEDIATE, 5)
        hb = await heartbeat_where(cp, video_playout="immediate")
        assert hb["playout_switches"] >= 2
        assert spy.marked > 0 and plain_spy.packets > 0 and plain_spy.marked == 0
    finally:
        await viewer.close()
        await plain.close()


async def test_chromium_takes_the_extension_and_plays(silent_room: Room) -> None:
    cp, _ = silent_room
    # a real browser offers playout-delay: the agent accepts it, the stream plays as before
    seen_from = len(cp.messages)
    await check_browser(cp, "video/H264")
    beats = [m["data"] for m in cp.messages[seen_from:] if m["type"] == "heartbeat"]
    # the agent beats every second; the browser watched for several of them
    assert any(
        b["playout_delay_viewers"] == 1 and b["video_playout"] == "immediate" for b in beats
    ), beats
