"""Each viewer's video packets leave at its estimated rate (aiortc adapter).

aiortc's sender writes every RTP packet of a frame back to back (``transport._send_rtp`` in a
loop): a keyframe of tens of kilobytes leaves as one burst, which a shallow router queue on a
weak viewer's downlink drops. ``pace_sender`` gives one video sender a transport that lets
packets through a token bucket: rate ``PACE_FACTOR`` times the viewer's estimate (never below
its rung's bitrate), depth one frame interval at that rate. An ordinary frame fits the bucket
and leaves at once; a keyframe is spread over the following frame intervals instead of burst.
RTCP (sender reports) bypasses the bucket. Retransmissions (an RTX packet, or a sequence number
not newer than the last one sent) are charged to the bucket but never wait: aiortc answers a
NACK inline in the DTLS transport's one read loop, so a retransmission that slept would stall
everything the viewer sends us meanwhile (its input channels, PLIs, REMBs, receiver reports)
and inflate the round trip its estimate sees.

The bucket's state is the viewer's own and only the sender's RTP loop and its retransmissions
use it, all on the event loop: no locking. A rate that fails to compute costs the packet its
pacing, never the viewer's send loop.

Private API, as in keyframes.py: the sender keeps its transport in a name-mangled attribute.
The hook checks it is there (and has ``_send_rtp``) and says so when it is not; the viewer is
then not paced. ``tests/unit/test_agent_pacing.py`` runs it against the installed aiortc.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpSender

log = logging.getLogger("roomagent.pacing")

TRANSPORT = "_RTCRtpSender__transport"
PACE_FACTOR = 1.5
# a retransmission that would wait longer than this behind the bucket's debt is dropped
MAX_RETRANSMIT_WAIT_S = 0.25
MIN_KBPS = 200.0


class TokenBucket:
    """When each packet may leave (pure: time passed in)."""

    def __init__(self, fps: int) -> None:
        self.interval = 1.0 / max(1, fps)
        self.tokens = 0.0  # bytes; negative: debt the next packets wait for
        self.at: float | None = None

    def delay(self, now: float, nbytes: int, kbps: float) -> float:
        """Seconds to wait before sending `nbytes` at `kbps` (0: at once)."""
        rate = max(MIN_KBPS, kbps) * 125  # bytes per second
        depth = rate * self.interval
        if self.at is None:
            self.tokens = depth
        else:
            self.tokens = min(depth, self.tokens + (now - self.at) * rate)
        self.at = now
        self.tokens -= nbytes
        return 0.0 if self.tokens >= 0 else -self.tokens / rate


def is_rtcp(data: bytes) -> bool:
    return len(data) > 1 and 192 <= data[1] <= 223


def seq_newer(seq: int, than: int) -> bool:
    """RTP sequence order with wrap-around (RFC 3550)."""
    return seq != than and ((seq - than) & 0xFFFF) < 0x8000


class PacedTransport:
    """The sender's DTLS transport, its RTP paced; everything else passes through."""

    def __init__(
        self, transport: Any, rate_kbps: Callable[[], float], fps: Callable[[], int]
    ) -> None:
        self._transport = transport
        self._rate_kbps = rate_kbps
        self._fps = fps  # the frame rate of the rung the viewer is on now
        self.bucket = TokenBucket(fps())
        self.paced = 0  # packets that waited
        self.waited_s = 0.0
        self.retransmitted = 0  # charged, sent at once
        self.stale_retransmissions = 0  # retransmissions dropped behind too long a wait
        # The media stream: the first RTP packet's SSRC, and its newest sequence number.
        self._ssrc: bytes | None = None
        self._seq: int | None = None

    def _is_retransmission(self, data: bytes) -> bool:
        """An RTX packet (aiortc retransmits on the RTX SSRC where it was negotiated, as
        Chromium's offers do) or one not newer than the newest sent (resent as is);
        remembers the newest."""
        if len(data) < 12:
            return False
        ssrc, seq = data[8:12], int.from_bytes(data[2:4], "big")
        if self._ssrc is None:
            self._ssrc = ssrc
        if ssrc != self._ssrc:
            return True  # RTX
        if self._seq is not None and not seq_newer(seq, self._seq):
            return True  # resent as is (no RTX negotiated)
        self._seq = seq
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    async def _send_rtp(self, data: bytes) -> None:
        if not is_rtcp(data):
            try:
                kbps = self._rate_kbps()
            except Exception:
                log.exception("pacing rate failed: packet sent at once")
                kbps = 0.0
            if kbps > 0:
                self.bucket.interval = 1.0 / max(1, self._fps())
                wait = self.bucket.delay(time.monotonic(), len(data), kbps)
                if self._is_retransmission(data):
                    if wait > MAX_RETRANSMIT_WAIT_S:
                        # A NACKed packet behind this much of the link's time: the frames
                        # behind it would wait too (after a rung switch, the old rung's lost
                        # keyframe was retransmitted for seconds through a 600 kbit/s link,
                        # 80-90 % of what was new lost meanwhile). The receiver asks again, or
                        # for a keyframe.
                        self.bucket.tokens += len(data)
                        self.stale_retransmissions += 1
                        return
                    self.retransmitted += 1
                elif wait > 0.0005:
                    self.paced += 1
                    self.waited_s += wait
                    await asyncio.sleep(wait)
        await self._transport._send_rtp(data)


def pace_sender(
    sender: RTCRtpSender, rate_kbps: Callable[[], float], fps: Callable[[], int]
) -> PacedTransport | None:
    """Pace `sender`'s RTP at `rate_kbps()`, one frame interval (at `fps()`, the viewer's rung's
    frame rate) deep; None where aiortc lacks the hook (not paced)."""
    transport = getattr(sender, TRANSPORT, None)
    if transport is None or not callable(getattr(transport, "_send_rtp", None)):
        log.error("aiortc has no %s: viewers' video is not paced", TRANSPORT)
        return None
    if isinstance(transport, PacedTransport):
        return transport
    paced = PacedTransport(transport, rate_kbps, fps)
    setattr(sender, TRANSPORT, paced)
    original = sender.setTransport

    def set_transport(new: Any) -> None:
        # BUNDLE hands the sender the first m-line's transport: keep pacing on that one
        paced._transport = new._transport if isinstance(new, PacedTransport) else new
        original(paced)  # type: ignore[arg-type]

    setattr(sender, "setTransport", set_transport)  # noqa: B010 (an instance's method)
    return paced
