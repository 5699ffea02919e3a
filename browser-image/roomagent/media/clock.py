"""RTCP sender reports that map RTP time to when the media was captured, not when it was sent.

A receiver lines audio and video up by the sender reports (SR) of each stream: an SR pairs one
RTP timestamp with a wall-clock (NTP) time, and the receiver plays two samples together when
their RTP timestamps map to the same NTP time. aiortc writes into every SR the RTP timestamp of
the last packet it sent and the wall time *at which it sent it*. For media aiortc encodes itself
that is close enough; our packets are encoded earlier, by the room's shared encoders, so each
stream's mapping is shifted by its own capture-to-send delay: a 20 ms Opus frame is sent once its
last sample arrived (plus PulseAudio's and parec's buffering), a video frame once it was grabbed,
converted and encoded. The viewer then plays sound late by the difference, however accurate the
timestamps themselves are.

Both pipelines stamp their packets with the capture time on the agent's monotonic clock
(``pts`` = capture time - ``t0``). ``map_sender_reports`` makes a sender's SRs say exactly that:
NTP(rtp) = the wall time of ``t0 + (rtp - origin) / clock_rate``, where ``origin`` is the random
RTP timestamp offset aiortc chose for the sender, learnt from its first packets.

Private API, as in ``keyframes.py``: the hook checks that aiortc still has the two methods and the
attribute it relies on and says so when not (the SRs then keep aiortc's send-time mapping);
``tests/agent/test_media_behaviour.py`` runs it against the installed aiortc.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCRtpSender
from aiortc.rtp import RtcpSrPacket

log = logging.getLogger("roomagent.clock")

NEXT_FRAME = "_next_encoded_frame"
SEND_RTCP = "_send_rtcp"
LAST_RTP = "_RTCRtpSender__rtp_timestamp"
LSR = "_RTCRtpSender__lsr"
NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
WRAP = 1 << 32


def ntp_of_monotonic(mono: float) -> int:
    """64-bit NTP time of a ``time.monotonic()`` instant."""
    wall = time.time() - (time.monotonic() - mono)
    return round((wall + NTP_UNIX_OFFSET) * WRAP)


def capture_time(media_ticks: int, clock_rate: int, t0: float) -> float:
    """The monotonic capture instant of an RTP time (``media_ticks`` = rtp - origin, mod 2³²).

    RTP time wraps every 2³² ticks (13 h at 90 kHz): pick the wrap nearest to now."""
    now = time.monotonic()
    base = t0 + media_ticks / clock_rate
    period = WRAP / clock_rate
    return base + round((now - base) / period) * period


class SenderClock:
    """Learns a sender's RTP origin and rewrites its SRs to the capture clock."""

    def __init__(self, sender: RTCRtpSender, clock_rate: int, t0: float) -> None:
        self.sender = sender
        self.clock_rate = clock_rate
        self.t0 = t0
        self.origin: int | None = None
        self.rewritten = 0
        self._last_ts: int | None = None
        self._next: Callable[[Any], Awaitable[Any]] = getattr(sender, NEXT_FRAME)
        self._send: Callable[[list[Any]], Awaitable[None]] = getattr(sender, SEND_RTCP)
        setattr(sender, NEXT_FRAME, self._next_frame)
        setattr(sender, SEND_RTCP, self._send_rtcp)

    async def _next_frame(self, codec: Any) -> Any:
        # aiortc asks for the next frame only once every packet of the previous one was sent, so
        # its last RTP timestamp is exactly origin + that frame's timestamp.
        if self._last_ts is not None and self.origin is None:
            self.origin = (getattr(self.sender, LAST_RTP) - self._last_ts) % WRAP
        frame = await self._next(codec)
        if frame is not None:
            self._last_ts = frame.timestamp
        return frame

    async def _send_rtcp(self, packets: list[Any]) -> None:
        if self.origin is not None:
            for p in packets:
                if isinstance(p, RtcpSrPacket) and p.ssrc == self.sender._ssrc:
                    info = p.sender_info
                    ticks = (info.rtp_timestamp - self.origin) % WRAP
                    info.ntp_timestamp = ntp_of_monotonic(
                        capture_time(ticks, self.clock_rate, self.t0)
                    )
                    # the receiver echoes the SR's middle 32 bits back (LSR) for the RTT
                    setattr(self.sender, LSR, (info.ntp_timestamp >> 16) & 0xFFFFFFFF)
                    self.rewritten += 1
        await self._send(packets)


def map_sender_reports(sender: RTCRtpSender, clock_rate: int, t0: float) -> SenderClock | None:
    """Make `sender`'s SRs map RTP time to capture time (see the module doc); None if aiortc
    lacks the hooks (its own send-time mapping is left in place)."""
    missing = [
        name for name in (NEXT_FRAME, SEND_RTCP) if not callable(getattr(sender, name, None))
    ]
    if not hasattr(sender, LAST_RTP) or not hasattr(sender, LSR):
        missing.append(LAST_RTP)
    if missing:
        log.error("aiortc has no %s: sender reports keep the send time", ", ".join(missing))
        return None
    return SenderClock(sender, clock_rate, t0)
