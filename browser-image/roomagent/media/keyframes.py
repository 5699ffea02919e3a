"""Viewers' keyframe requests (RTCP PLI/FIR) routed to the one shared encoder.

aiortc answers a PLI or FIR by calling its sender's private `_send_keyframe`, which sets a flag
only aiortc's own per-sender encoder reads; our senders carry packets the shared encoder made,
so that flag would be lost and a viewer that lost a packet would wait for the next periodic
keyframe (seconds of frozen video). `route_keyframe_requests` replaces that method on one
sender. It is private API: the hook checks it is there and says so when it is not, and
`tests/agent/test_keyframes.py` sends a real PLI through aiortc's RTCP handling, so an aiortc
upgrade that renames it fails a test instead of freezing video.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiortc import RTCRtpSender

log = logging.getLogger("roomagent.keyframes")

HOOK = "_send_keyframe"


def route_keyframe_requests(sender: RTCRtpSender, on_request: Callable[[], None]) -> bool:
    """Make the viewer's PLI/FIR on `sender` call `on_request`; False if aiortc has no hook."""
    if not callable(getattr(sender, HOOK, None)):
        log.error("aiortc has no %s: viewers' keyframe requests are lost", HOOK)
        return False
    setattr(sender, HOOK, on_request)
    return True
