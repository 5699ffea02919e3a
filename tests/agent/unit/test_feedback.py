"""A viewer's RTCP (receiver reports, NACKs, REMB) reaches its bandwidth estimate through aiortc's
own RTCP handling (media/feedback.py), and aiortc still handles it: if an aiortc upgrade
renames the private hook, this fails instead of every viewer silently staying on the top rung."""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    pack_remb_fci,
)
from roomagent.config import AgentSettings
from roomagent.media.fanout import Broadcaster
from roomagent.media.feedback import observe_feedback
from roomagent.media.video import VideoPipeline
from roomagent.peers import PeerManager


async def test_reports_nacks_and_remb_reach_the_viewer_s_estimate() -> None:
    settings = AgentSettings(codec="h264", keyframe_min_gap_ms=0)
    video_bc, audio_bc = Broadcaster("video", 8), Broadcaster("audio", 8)
    video = VideoPipeline(settings, ":0", video_bc, 0.0)
    peers = PeerManager(settings, video_bc, audio_bc, video.request_keyframe, lambda v, m: None)
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        answer = await peers.answer("c1", "ana", pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        viewer = peers.viewers["c1"]
        est = viewer.estimate
        assert est is not None
        sender = next(t.sender for t in viewer.pc.getTransceivers() if t.kind == "video")
        ssrc = sender._ssrc

        def rr(highest: int, lost: int) -> RtcpRrPacket:
            info = RtcpReceiverInfo(ssrc, 0, lost, highest, 900, 0, 0)
            return RtcpRrPacket(ssrc=99, reports=[info])

        for t in range(40):
            est.on_sent(t / 10, 37_500, 30)  # 3 Mbit/s
        est.tick(4.0)
        await sender._handle_rtcp_packet(rr(1000, 0))
        assert est.jitter_ms == 10.0  # 900 RTP units at 90 kHz
        est._rr_at -= 1.0  # (a window is at least half a second: as if a second went by)
        await sender._handle_rtcp_packet(rr(1300, 150))  # half of a window lost
        assert est.loss == 0.5
        nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=99, media_ssrc=ssrc)
        nack.lost = [5, 6, 7]
        await sender._handle_rtcp_packet(nack)
        assert est.nacks == 3
        remb = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=99, media_ssrc=0)
        remb.fci = pack_remb_fci(800_000, [ssrc])
        await sender._handle_rtcp_packet(remb)
        assert est.remb_kbps == 800
        # aiortc still does its own part: a PLI still reaches the viewer's rung
        await sender._handle_rtcp_packet(
            RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=99, media_ssrc=ssrc)
        )
        assert viewer.plis == 1 and video.rungs[0].keyframe_requests == 1
    finally:
        await peers.close_all()
        await pc.close()
        await asyncio.sleep(0)


def test_a_sender_without_the_hook_is_reported_not_patched() -> None:
    class NoHook:
        pass

    assert observe_feedback(NoHook(), None) is False  # type: ignore[arg-type]
