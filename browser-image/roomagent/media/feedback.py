"""What a viewer's receiver reports about its video, fed to its bandwidth estimate (aiortc
adapter).

aiortc's sender parses every RTCP packet its viewer sends in the private
``RTCRtpSender._handle_rtcp_packet``: it keeps receiver reports only for ``getStats``, answers
NACKs from its history and feeds REMB only to its own encoder (which our senders do not use:
they carry packets the shared encoders made). ``observe_feedback`` wraps that method on one
sender so each packet is first shown to the viewer's ``ViewerEstimate`` (media/estimate.py),
then handled by aiortc as before (retransmission, keyframe requests, stats):

- a receiver report block about the sender's SSRC: extended highest sequence number,
  cumulative packets lost, interarrival jitter and the round-trip time (from the block's LSR and
  DLSR against the sender report aiortc sent last: its private ``__lsr`` / ``__lsr_time``);
- a generic NACK: how many packets it names;
- a REMB naming the sender's SSRC: the receiver's estimated maximum bitrate.

Private API, as in keyframes.py: the hook checks the method and attributes exist and says so
when they do not (the viewer then keeps the top rung, today's behaviour). An observer that fails
costs the estimate that packet, never aiortc's handling of it.
``tests/unit/test_agent_feedback.py`` runs it against the installed aiortc.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiortc import RTCRtpSender
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_RTPFB_NACK,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    unpack_remb_fci,
)

from .estimate import ViewerEstimate

log = logging.getLogger("roomagent.feedback")

HOOK = "_handle_rtcp_packet"
LSR = "_RTCRtpSender__lsr"
LSR_TIME = "_RTCRtpSender__lsr_time"
VIDEO_CLOCK = 90000


def observe(
    sender: RTCRtpSender, packet: AnyRtcpPacket, estimate: ViewerEstimate, now: float
) -> None:
    """Show one RTCP packet the viewer sent to `estimate`."""
    ssrc = sender._ssrc
    if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
        for report in packet.reports:
            if report.ssrc != ssrc:
                continue
            rtt: float | None = None
            lsr, lsr_time = getattr(sender, LSR, None), getattr(sender, LSR_TIME, None)
            if lsr is not None and lsr_time is not None and lsr == report.lsr and report.dlsr:
                rtt = time.time() - lsr_time - report.dlsr / 65536
            estimate.on_receiver_report(
                now,
                report.highest_sequence,
                report.packets_lost,
                report.jitter * 1000 / VIDEO_CLOCK,
                rtt,
            )
    elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
        estimate.on_nack(now, len(packet.lost))
    elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
        try:
            bitrate, ssrcs = unpack_remb_fci(packet.fci)
        except ValueError:
            return
        if ssrc in ssrcs:
            estimate.on_remb(now, bitrate)


def observe_feedback(
    sender: RTCRtpSender,
    estimate: ViewerEstimate,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Show every RTCP packet `sender` handles to `estimate` first; False if aiortc has no hook."""
    original = getattr(sender, HOOK, None)
    if not callable(original) or not hasattr(sender, LSR) or not hasattr(sender, LSR_TIME):
        log.error("aiortc has no %s/%s: viewers' reports do not reach their estimate", HOOK, LSR)
        return False

    async def handle(packet: AnyRtcpPacket) -> None:
        try:
            observe(sender, packet, estimate, clock())
        except Exception:
            log.exception("receiver feedback not understood: ignored")
        await original(packet)

    setattr(sender, HOOK, handle)
    return True
