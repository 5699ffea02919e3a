"""A viewer's keyframe request (RTCP PLI) goes through aiortc's own RTCP handling into the shared
encoder: if an aiortc upgrade renames the private hook, this fails instead of video freezing."""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import RTCP_PSFB_PLI, RtcpPsfbPacket
from roomagent.config import AgentSettings
from roomagent.media.fanout import Broadcaster
from roomagent.media.keyframes import route_keyframe_requests
from roomagent.media.video import VideoPipeline
from roomagent.peers import PeerManager


async def test_a_pli_raises_keyframe_requests():
    settings = AgentSettings(codec="vp8", keyframe_min_gap_ms=0)
    video_bc, audio_bc = Broadcaster("video", 4), Broadcaster("audio", 4)
    # Never started: only its keyframe bookkeeping is under test, no display is opened.
    video = VideoPipeline(settings, ":0", video_bc, 0.0)
    peers = PeerManager(settings, video_bc, audio_bc, video.request_keyframe, lambda v, m: None)
    viewer_pc = RTCPeerConnection()
    viewer_pc.addTransceiver("video", direction="recvonly")
    viewer_pc.addTransceiver("audio", direction="recvonly")
    viewer_pc.createDataChannel("input")
    await viewer_pc.setLocalDescription(await viewer_pc.createOffer())
    try:
        answer = await peers.answer("c1", "ana", viewer_pc.localDescription.sdp)
        await viewer_pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        viewer = peers.viewers["c1"]
        sender = next(t.sender for t in viewer.pc.getTransceivers() if t.kind == "video")
        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1234, media_ssrc=sender._ssrc)
        await sender._handle_rtcp_packet(pli)
        assert video.keyframe_requests == 1
        assert (viewer.plis, peers.plis) == (1, 1)
    finally:
        await peers.close_all()
        await viewer_pc.close()
        await asyncio.sleep(0)


def test_a_sender_without_the_hook_is_reported_not_patched():
    class NoHook:
        pass

    assert route_keyframe_requests(NoHook(), lambda: None) is False  # type: ignore[arg-type]
    assert not hasattr(NoHook, "_send_keyframe")
