"""Pacing (browser-image/roomagent/media/pacing.py): the token bucket, and a real aiortc viewer
on a weak rung receiving a keyframe spread over time instead of in one burst."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from roomagent.config import AgentSettings
from roomagent.media.fanout import Broadcaster
from roomagent.media.pacing import TRANSPORT, PacedTransport, TokenBucket, pace_sender
from roomagent.peers import PeerManager

from tests.support.waits import eventually


def test_an_ordinary_frame_leaves_at_once_a_keyframe_is_spread() -> None:
    bucket = TokenBucket(fps=30)
    kbps = 1000.0  # 125 kB/s: a frame interval holds ~4.2 kB
    assert sum(bucket.delay(0.0, 1200, kbps) for _ in range(3)) == 0.0
    bucket = TokenBucket(fps=30)
    waits = [bucket.delay(0.0, 1200, kbps) for _ in range(50)]  # a 60 kB keyframe
    assert waits[0] == 0.0
    # the last packet leaves when the rate allows: (60 kB - one interval's worth) / 125 kB/s
    assert waits[-1] == pytest.approx((60_000 - 125_000 / 30) / 125_000, rel=0.01)
    # once the burst has gone, an idle interval refills the bucket
    assert bucket.delay(1.0, 1200, kbps) == 0.0


def test_a_sender_without_the_hook_is_reported_not_paced() -> None:
    class NoTransport:
        pass

    assert pace_sender(NoTransport(), lambda: 100.0, lambda: 30) is None  # type: ignore[arg-type]


async def keyframe_arrival_spread(pacing: bool) -> float:
    """Seconds between the first and the last packet of a 30 kB keyframe at a viewer on the
    ladder's last rung (250 kbit/s)."""
    settings = AgentSettings(codec="h264", pacing=pacing)
    video_bc, audio_bc = Broadcaster("video", 8), Broadcaster("audio", 8)
    peers = PeerManager(settings, video_bc, audio_bc, lambda rung: None, lambda v, m: None)
    pc = RTCPeerConnection()
    arrivals: list[float] = []
    try:
        receiver = pc.addTransceiver("video", direction="recvonly").receiver
        pc.addTransceiver("audio", direction="recvonly")
        original = receiver._handle_rtp_packet

        async def record(packet: Any, arrival_time_ms: int) -> None:
            arrivals.append(time.monotonic())
            await original(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = record
        await pc.setLocalDescription(await pc.createOffer())
        answer = await peers.answer("c", "u", pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        viewer = peers.viewers["c"]
        sender = next(t.sender for t in viewer.pc.getTransceivers() if t.kind == "video")
        assert isinstance(getattr(sender, TRANSPORT), PacedTransport) == pacing
        track, est = viewer.video, viewer.estimate
        assert track is not None and est is not None
        track.rung = est.rung = len(peers.ladder) - 1
        est.estimate_kbps = 250
        deadline = time.monotonic() + 10
        while not track._started:
            assert time.monotonic() < deadline, "the sender never started"
            await asyncio.sleep(0.02)
        packet = av.Packet(b"\x00\x00\x00\x01\x65" + os.urandom(30_000))
        packet.pts, packet.is_keyframe = 90_000, True
        packet.time_base = track_time_base()
        video_bc.publish(packet, track.rung)
        # All of it has arrived once nothing more has for a while (~0.6 s paced, at once not).
        await eventually(
            lambda: len(arrivals) >= 20 and time.monotonic() - arrivals[-1] > 0.5,
            what="the whole keyframe at the viewer",
        )
        return arrivals[-1] - arrivals[0]
    finally:
        await peers.close_all()
        await pc.close()


def track_time_base() -> Any:
    from roomagent.media.video import VIDEO_TIME_BASE

    return VIDEO_TIME_BASE


async def test_a_weak_viewer_s_keyframe_arrives_spread_not_burst() -> None:
    # 30 kB at 1.5 x 250 kbit/s: ~0.6 s; at once without pacing
    assert await keyframe_arrival_spread(pacing=True) >= 0.4
    assert await keyframe_arrival_spread(pacing=False) < 0.2


def rtp(seq: int, ssrc: int = 1111, size: int = 1200) -> bytes:
    header = bytes([0x80, 96]) + seq.to_bytes(2, "big") + (0).to_bytes(4, "big")
    return header + ssrc.to_bytes(4, "big") + bytes(size - 12)


class Recording:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(data)


async def test_retransmissions_are_charged_but_never_wait() -> None:
    """aiortc answers a NACK inline in the DTLS read loop: a retransmission that slept for the
    bucket would stall the viewer's input channels, PLIs and receiver reports meanwhile. (One
    behind more than MAX_RETRANSMIT_WAIT_S is dropped instead: the next test.)"""
    inner = Recording()
    paced = PacedTransport(inner, lambda: 600.0, lambda: 30)  # 75 kB/s
    sends = [asyncio.ensure_future(paced._send_rtp(rtp(seq))) for seq in range(100, 112)]
    await asyncio.sleep(0.05)  # the burst is in debt now: the last of it waits ~0.16 s
    assert not sends[-1].done()
    tokens, at = paced.bucket.tokens, paced.bucket.at
    assert at is not None
    for data in (rtp(105), rtp(7, ssrc=2222)):  # as is (no RTX), and RTX
        started = time.monotonic()
        await paced._send_rtp(data)
        assert time.monotonic() - started < 0.02
        assert inner.sent[-1] == data
    assert paced.retransmitted == 2 and paced.stale_retransmissions == 0
    # ... and the bucket was charged for them: what follows waits for what they cost
    assert paced.bucket.at is not None
    refill = (paced.bucket.at - at) * 75_000
    assert paced.bucket.tokens == pytest.approx(tokens + refill - 2 * 1200)
    await asyncio.gather(*sends)


def test_the_pace_floor_is_what_the_rung_s_encoder_makes() -> None:
    """A viewer estimated below its rung is still paced faster than the encoder (rung bitrate
    times WP_QUALITY's factor) makes video, or its queue only grows."""
    from roomagent.media.video import QUALITY
    from roomagent.peers import Viewer

    settings = AgentSettings(codec="h264", quality="quality")
    peers = PeerManager(
        settings,
        Broadcaster("video", 8),
        Broadcaster("audio", 8),
        lambda r: None,
        lambda v, m: None,
    )
    viewer = Viewer("c", "u", RTCPeerConnection())

    class Track:
        rung = len(peers.ladder) - 1

    class Estimate:
        estimate_kbps = 50.0

    viewer.video, viewer.estimate = Track(), Estimate()  # type: ignore[assignment]
    made = peers.ladder[-1].kbps * QUALITY["quality"][2]
    assert peers._pace_kbps(viewer) >= 1.5 * made
    assert peers._rung_fps(viewer) == peers.ladder[-1].fps


def _rtp(seq: int, size: int = 1200) -> bytes:
    return bytes([0x80, 96]) + (seq % 0x10000).to_bytes(2, "big") + bytes(size - 4)


async def test_a_retransmission_behind_a_long_wait_is_dropped_new_packets_are_not() -> None:
    """NACKed packets of a rung the viewer left must not hold its new frames behind them: a
    retransmission that would wait more than MAX_RETRANSMIT_WAIT_S is dropped."""
    sent: list[int] = []

    class Transport:
        async def _send_rtp(self, data: bytes) -> None:
            sent.append(int.from_bytes(data[2:4], "big"))

    paced = PacedTransport(Transport(), lambda: 1000.0, lambda: 30)  # 125 kB/s
    # a 60 kB keyframe: its last packets owe ~0.45 s to the bucket
    burst = [asyncio.create_task(paced._send_rtp(_rtp(65_500 + i))) for i in range(50)]
    await asyncio.sleep(0)
    await paced._send_rtp(_rtp(65_502))  # NACKed meanwhile: behind ~0.5 s, dropped at once
    assert paced.stale_retransmissions == 1
    await asyncio.gather(*burst)
    assert sent.count(65_502) == 1 and len(sent) == 50  # (the sequence numbers wrapped)
    await asyncio.sleep(0.3)
    await paced._send_rtp(_rtp(65_510))  # NACKed with the bucket refilled: sent
    assert sent[-1] == 65_510 and paced.stale_retransmissions == 1
