"""The playout-delay policy and extension payload (browser-image/roomagent/media/playout*.py),
without services: which limits the video carries when, and what a receiver reads from them."""

from __future__ import annotations

import struct

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, unpack_header_extensions
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
    PlayoutDelayMap,
    decode_limits,
    encode_limits,
    negotiate_playout_delay,
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
    # an odd trailing byte is not half a sample: ignored, however loud it would be
    assert not has_sound(pcm(*([0] * 10)) + b"\x7f")
    assert has_sound(pcm(*([0] * 10), 20000) + b"\x00")


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


# the aiortc adapter, in process (no network, no X): answer and packets --------------------------
def sender_params(*exts: tuple[int, str]) -> RTCRtpParameters:
    return RTCRtpParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u) for i, u in exts]
    )


MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def written(header: PlayoutDelayMap, values: HeaderExtensions) -> dict[int, bytes]:
    return dict(unpack_header_extensions(*header.set(values)))


def test_every_packet_carries_the_limits_of_the_moment_beside_aiortc_s_own() -> None:
    now = [IMMEDIATE]
    header = PlayoutDelayMap(lambda: now[0])
    header.configure(sender_params((9, MID), (2, ABS_SEND_TIME), (5, URI)))
    values = HeaderExtensions(mid="0", abs_send_time=0x123456)
    exts = written(header, values)
    assert exts[9] == b"0" and exts[2] == b"\x12\x34\x56"
    assert decode_limits(exts[5]) == IMMEDIATE
    now[0] = SYNCED
    assert decode_limits(written(header, values)[5]) == SYNCED


def test_a_failing_policy_costs_the_extension_not_the_packet() -> None:
    def broken() -> PlayoutLimits:
        raise RuntimeError("policy bug")

    header = PlayoutDelayMap(broken)
    header.configure(sender_params((9, MID), (5, URI)))
    exts = written(header, HeaderExtensions(mid="0"))
    assert exts == {9: b"0"}


async def answer_to(offer_sdp: str) -> tuple[str, bool]:
    pc = RTCPeerConnection()
    try:
        transceiver = pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        taken = negotiate_playout_delay(transceiver, offer_sdp, lambda: IMMEDIATE)
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp, taken
    finally:
        await pc.close()


async def viewer_offer(extmap: str | None) -> str:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("video", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
    finally:
        await pc.close()
    if extmap is not None:
        sdp = sdp.replace("a=mid:0", f"{extmap}\r\na=mid:0", 1)
    return sdp


async def test_the_answer_accepts_the_offered_extension_only_when_it_is_sound() -> None:
    answer, taken = await answer_to(await viewer_offer(f"a=extmap:5 {URI}"))
    assert taken and f"a=extmap:5 {URI}" in answer
    # not offered: nothing changes
    answer, taken = await answer_to(await viewer_offer(None))
    assert not taken and URI not in answer
    # offered under an id the offer also gives another extension: refused, not guessed at
    answer, taken = await answer_to(await viewer_offer(f"a=extmap:1 {URI}"))
    assert "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid" in answer
    assert not taken and URI not in answer
