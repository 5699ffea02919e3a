"""The RTP playout-delay header extension on a viewer's video packets (aiortc adapter).

The extension (``http://www.webrtc.org/experiments/rtp-hdrext/playout-delay``) carries, in three
bytes, the minimum and maximum time the receiver may hold a frame before rendering it, in 10 ms
units (12 bits each). Chromium offers it on every video m-line; aiortc neither answers nor writes
it. ``negotiate_playout_delay`` does both for one transceiver, after the offer was applied and
before the answer is made:

- it adds the offer's extmap entry (the viewer's id) to the transceiver's agreed extensions, so
  the answer accepts it and the sender's parameters carry it;
- it gives the sender a header-extension map that appends the extension, with the values
  `limits()` returns at that moment, to every packet aiortc serialises (RTX resends included).
  Chromium keeps the last values it received, so every packet states them.

Private API, as in ``keyframes.py``: the sender's map is a name-mangled attribute and the
agreed extensions a private list; the hook checks both and says so when aiortc changed
(the viewer then gets the receiver's default timing). ``tests/agent/test_playout_delay.py`` runs
it against the installed aiortc and a real Chromium viewer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from struct import pack

from aiortc import RTCRtpTransceiver
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    HeaderExtensions,
    HeaderExtensionsMap,
    pack_header_extensions,
    unpack_header_extensions,
)
from aiortc.sdp import SessionDescription

from .playout import PlayoutLimits

log = logging.getLogger("roomagent.playout")

URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
SENDER_MAP = "_RTCRtpSender__rtp_header_extensions_map"
AGREED = "_headerExtensions"
MAX_UNITS = 0xFFF  # 12 bits of 10 ms
ONE_BYTE_MAX_ID = 14  # aiortc does not negotiate two-byte headers (extmap-allow-mixed)


def encode_limits(limits: PlayoutLimits) -> bytes:
    """The extension's payload: 12-bit minimum then 12-bit maximum, in 10 ms units."""
    lo = max(0, min(MAX_UNITS, round(limits.min_ms / 10)))
    hi = max(lo, min(MAX_UNITS, round(limits.max_ms / 10)))
    return pack("!I", (lo << 12) | hi)[1:]


def decode_limits(payload: bytes) -> PlayoutLimits:
    """The inverse of `encode_limits` (what a receiver reads)."""
    value = int.from_bytes(payload[:3], "big")
    return PlayoutLimits((value >> 12) * 10, (value & MAX_UNITS) * 10)


class PlayoutDelayMap(HeaderExtensionsMap):
    """aiortc's header-extension map plus the playout-delay extension.

    One per sender, used from that sender's RTP loop and its retransmissions, both on the event
    loop: no locking. `set` runs inside aiortc's send loop, where any exception would end this
    viewer's video for good; a failing `limits()` therefore costs the packet its extension only.
    """

    def __init__(self, limits: Callable[[], PlayoutLimits]) -> None:
        super().__init__()
        self.limits = limits
        self.ext_id: int | None = None
        # the values last written, and their payload, so a steady state encodes nothing
        self._cached: tuple[PlayoutLimits, bytes] | None = None

    def configure(self, parameters: RTCRtpParameters) -> None:
        super().configure(parameters)
        for ext in parameters.headerExtensions:
            if ext.uri == URI:
                self.ext_id = ext.id

    def set(self, values: HeaderExtensions) -> tuple[int, bytes]:
        profile, value = super().set(values)
        if self.ext_id is None:
            return profile, value
        try:
            limits = self.limits()
        except Exception:
            log.exception("playout limits failed: packet sent without them")
            return profile, value
        if self._cached is None or self._cached[0] != limits:
            self._cached = (limits, encode_limits(limits))
        extensions = unpack_header_extensions(profile, value) if value else []
        extensions.append((self.ext_id, self._cached[1]))
        return pack_header_extensions(extensions)


def offered_extension(offer_sdp: str, mid: str | None) -> RTCRtpHeaderExtensionParameters | None:
    """The offer's playout-delay extmap entry on the video m-line `mid` (the first video m-line
    when `mid` is None), if it has one aiortc can write."""
    for media in SessionDescription.parse(offer_sdp).media:
        if media.kind != "video" or (mid is not None and media.rtp.muxId != mid):
            continue
        for ext in media.rtp.headerExtensions:
            if ext.uri == URI and 0 < ext.id <= ONE_BYTE_MAX_ID:
                return ext
        return None
    return None


def negotiate_playout_delay(
    transceiver: RTCRtpTransceiver, offer_sdp: str, limits: Callable[[], PlayoutLimits]
) -> bool:
    """Accept the offer's playout-delay extension on `transceiver` and write `limits()` into
    every video packet. Call after setRemoteDescription(offer), before createAnswer. False when
    the viewer did not offer it or aiortc lacks the hooks (nothing is changed then)."""
    ext = offered_extension(offer_sdp, transceiver.mid)
    if ext is None:
        return False
    sender = transceiver.sender
    agreed = getattr(transceiver, AGREED, None)
    if not isinstance(agreed, list) or not isinstance(
        getattr(sender, SENDER_MAP, None), HeaderExtensionsMap
    ):
        log.error("aiortc has no %s/%s: video keeps the receiver's timing", AGREED, SENDER_MAP)
        return False
    if any(e.id == ext.id and e.uri != URI for e in agreed):
        return False  # the offer gave its id to another extension too: not ours to guess
    if all(e.uri != URI for e in agreed):
        agreed.append(ext)
    setattr(sender, SENDER_MAP, PlayoutDelayMap(limits))
    return True
