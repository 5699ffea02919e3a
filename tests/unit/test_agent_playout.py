"""The playout-delay policy and extension payload (browser-image/roomagent/media/playout*.py),
without services: which limits the video carries when, and what a receiver reads from them."""

from __future__ import annotations

import struct

import pytest
from roomagent.media.playout import (
    IMMEDIATE,
    SOUND_THRESHOLD,
    SYNCED,
    PlayoutLimits,
    PlayoutPolicy,
    has_sound,
)
from roomagent.media.playout_extension import (
    URI,
    decode_limits,
    encode_limits,
    offered_extension,
)


def pcm(*samples: int) -> bytes:
    return struct.pack(f"<{len(samples)}h", *samples)


def test_silence_and_dither_are_not_sound_a_quiet_tone_is() -> None:
    assert not has_sound(b"")
    assert not has_sound(pcm(*([0] * 1920)))
    assert not has_sound(pcm(*([SOUND_THRESHOLD, -SOUND_THRESHOLD, 3, -7] * 480)))
    assert has_sound(pcm(*([0] * 1919), SOUND_THRESHOLD + 1))
    assert has_sound(pcm(-(SOUND_THRESHOLD + 1), *([0] * 1919)))
    assert has_sound(pcm(*([0] * 10), 20000)[:-1] + b"\x7f")  # odd length: the last byte ignored


def test_auto_shows_at_once_in_silence_and_syncs_while_sound_plays() -> None:
    policy = PlayoutPolicy("auto", hold_s=3.0)
    assert policy.limits(10.0) == IMMEDIATE  # nothing heard yet: nothing to line up
    policy.heard(10.0)
    assert policy.limits(10.0) == SYNCED
    # the gaps of a beep once a second keep it synced
    for t in (11.0, 12.0, 13.0):
        assert policy.limits(t - 0.5) == SYNCED
        policy.heard(t)
    assert policy.limits(15.9) == SYNCED
    assert policy.limits(16.1) == IMMEDIATE  # 3 s of silence after the last sound at 13 s
    assert policy.switches == 2
    # a late report of an earlier sound does not move the clock back
    policy.heard(12.0)
    assert policy.limits(16.2) == IMMEDIATE


@pytest.mark.parametrize(("mode", "expected"), [("immediate", IMMEDIATE), ("synced", SYNCED)])
def test_pinned_modes_ignore_sound(mode: str, expected: PlayoutLimits) -> None:
    policy = PlayoutPolicy(mode, hold_s=3.0)  # type: ignore[arg-type]
    assert policy.limits(0.0) == expected
    policy.heard(1.0)
    assert policy.limits(1.0) == expected
    assert policy.limits(100.0) == expected
    assert policy.switches == 0


def test_limits_travel_in_10_ms_units_of_12_bits() -> None:
    assert encode_limits(IMMEDIATE) == b"\x00\x00\x00"
    assert decode_limits(encode_limits(IMMEDIATE)) == IMMEDIATE
    assert decode_limits(encode_limits(SYNCED)) == SYNCED
    assert decode_limits(encode_limits(PlayoutLimits(120, 340))) == PlayoutLimits(120, 340)
    # out of range: clamped to what 12 bits hold, and the maximum never below the minimum
    assert decode_limits(encode_limits(PlayoutLimits(-5, 99_999))) == PlayoutLimits(0, 40_950)
    assert decode_limits(encode_limits(PlayoutLimits(200, 100))) == PlayoutLimits(200, 200)


CHROMIUM_OFFER = """v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
m=video 9 UDP/TLS/RTP/SAVPF 96
c=IN IP4 0.0.0.0
a=mid:0
a=recvonly
a=extmap:4 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:{vid} {uri}
a=rtpmap:96 VP8/90000
m=audio 9 UDP/TLS/RTP/SAVPF 111
c=IN IP4 0.0.0.0
a=mid:1
a=recvonly
a=extmap:14 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=rtpmap:111 opus/48000/2
"""


def offer(vid: int = 5, uri: str = URI) -> str:
    return CHROMIUM_OFFER.format(vid=vid, uri=uri).replace("\n", "\r\n")


def test_the_offer_s_video_extension_is_found_by_mid() -> None:
    ext = offered_extension(offer(), "0")
    assert ext is not None and (ext.id, ext.uri) == (5, URI)
    assert offered_extension(offer(), None) is not None  # the first video m-line
    assert offered_extension(offer(), "1") is None  # the audio m-line has none
    assert offered_extension(offer(uri="urn:example:other"), "0") is None
    # aiortc writes one-byte headers only: an id above 14 is not taken
    assert offered_extension(offer(vid=15), "0") is None
