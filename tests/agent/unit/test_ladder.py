"""The encoder ladder in process (no X, no network beyond loopback): real encoders fed synthetic
captures, real aiortc viewers decoding what they get. A viewer moves between rungs at the target
rung's keyframe on the same RTP stream; a viewer's PLI asks only its own rung for a keyframe."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.frame import PictureType
from roomagent.config import AgentSettings
from roomagent.media import quality_wire
from roomagent.media.fanout import Broadcaster, PacketTrack
from roomagent.media.ladder import Rung
from roomagent.media.video import VIDEO_TIME_BASE, VideoPipeline, make_encoder
from roomagent.peers import PeerManager

SETTINGS = AgentSettings(codec="h264", keyframe_min_gap_ms=300, keyframe_interval_s=60)


def capture(n: int) -> av.VideoFrame:
    """A 1280x720 picture that changes every call (a moving band of light)."""
    frame = av.VideoFrame(1280, 720, "yuv420p")
    y = bytearray(frame.planes[0].line_size * 720)
    stride = frame.planes[0].line_size
    band = (n * 16) % 720
    for row in range(band, min(720, band + 40)):
        y[row * stride : row * stride + 1280] = b"\xeb" * 1280
    frame.planes[0].update(bytes(y))
    for plane in frame.planes[1:]:
        plane.update(b"\x80" * (plane.line_size * 360))
    return frame


class Peer:
    """An aiortc viewer decoding the room's video; remembers each frame's size and kind."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection()
        self.frames: list[tuple[int, int, bool]] = []
        self.status: list[tuple[int, int, int, int, int, int]] = []
        self.task: asyncio.Task[None] | None = None
        self.input = self.pc.createDataChannel("input")
        self.input.on("message", self._on_message)
        self.receiver = self.pc.addTransceiver("video", direction="recvonly").receiver
        self.pc.addTransceiver("audio", direction="recvonly")

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self.task = asyncio.ensure_future(self._consume(track))

    def _on_message(self, data: bytes | str) -> None:
        if isinstance(data, bytes) and data[:1] == bytes([quality_wire.QUALITY_STATUS]):
            self.status.append(quality_wire.decode_status(data))

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.VideoFrame)
                self.frames.append((frame.width, frame.height, bool(frame.key_frame)))

    async def join(self, peers: PeerManager, conn: str) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await peers.answer(conn, conn, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        return answer

    async def pli(self, peers: PeerManager, conn: str) -> None:
        transceivers = peers.viewers[conn].pc.getTransceivers()
        sender = next(t.sender for t in transceivers if t.kind == "video")
        await self.receiver._send_rtcp_pli(sender._ssrc)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        await self.pc.close()


async def until(pred: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        await asyncio.sleep(0.02)


class Room:
    def __init__(self) -> None:
        self.video_bc, self.audio_bc = Broadcaster("video", 8), Broadcaster("audio", 8)
        # Never started: the test feeds captures to its encoders as the capture thread would.
        self.video = VideoPipeline(SETTINGS, ":0", self.video_bc, 0.0, ladder=SETTINGS.rungs())
        self.peers = PeerManager(
            SETTINGS,
            self.video_bc,
            self.audio_bc,
            self.video.request_keyframe,
            lambda v, m: None,
            ladder=SETTINGS.rungs(),
        )
        self.n = 0
        self.t0 = time.monotonic()

    async def frames(self, count: int) -> None:
        """`count` captures at ~30 fps, encoded off the loop like the capture thread does."""
        for _ in range(count):
            self.n += 1
            now = time.monotonic()
            image = capture(self.n)
            await asyncio.to_thread(self.video._encode_image, image, now, now, now, 0.0)
            await asyncio.sleep(0.03)

    def track(self, conn: str) -> PacketTrack:
        track = self.peers.viewers[conn].video
        assert track is not None
        return track


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    r = Room()
    yield r
    await r.peers.close_all()
    await asyncio.sleep(0)


def test_packets_of_another_rung_wait_for_its_keyframe() -> None:
    bc = Broadcaster("video", 8)
    track = bc.subscribe()
    assert bc.active == {0}

    def packet(pts: int, key: bool) -> av.Packet:
        p = av.Packet(b"x" * 10)
        p.pts, p.is_keyframe = pts, key
        return p

    bc.publish(packet(1, True), 0)
    bc.publish(packet(1, True), 1)  # nobody is on rung 1: not taken
    track.move_to(1)
    assert bc.active == {0, 1}  # rung 1 must now be encoded
    bc.publish(packet(2, False), 0)
    bc.publish(packet(2, False), 1)  # a delta of rung 1: cannot start there
    bc.publish(packet(3, False), 0)
    bc.publish(packet(3, True), 1)  # rung 1's keyframe: the switch
    bc.publish(packet(4, False), 0)
    bc.publish(packet(4, False), 1)
    queued = list(track._queue)
    # rung 0's frames before the switch were still queued: the keyframe replaces them
    assert [(p.pts, p.is_keyframe) for p in queued] == [(3, True), (4, False)]
    assert (track.rung, track.target, track.switches) == (1, None, 1)
    assert bc.active == {1}  # rung 0 is no longer encoded


def _packet(pts: int, key: bool) -> av.Packet:
    p = av.Packet(b"x" * 10)
    p.pts, p.is_keyframe = pts, key
    return p


def test_a_weak_viewer_falling_behind_on_a_shared_rung_asks_nobody_for_a_keyframe() -> None:
    """The good viewer beside a weak one gets no more keyframes than alone: the weak viewer's
    overflowing queue waits for the rung's periodic keyframe when others watch that rung; alone
    on its rung it asks for one at once (nobody else pays)."""
    asked: list[tuple[str, int]] = []
    bc = Broadcaster("video", 4)
    weak = bc.subscribe(lambda rung: asked.append(("weak", rung)))
    good = bc.subscribe(lambda rung: asked.append(("good", rung)))
    for t in (weak, good):
        t._started = True
    bc.publish(_packet(0, True), 0)
    good._queue.clear()  # the good viewer's sender keeps up
    for pts in range(1, 6):  # the weak one's does not: its queue (4) overflows
        bc.publish(_packet(pts, False), 0)
        good._queue.clear()
    assert weak.need_keyframe and weak.dropped > 0
    assert asked == []  # nobody's picture paid for it
    bc.publish(_packet(6, True), 0)  # the rung's periodic keyframe
    assert not weak.need_keyframe and [p.pts for p in weak._queue] == [6]

    good.stop()  # alone on the rung now: an overflow asks at once
    for pts in range(7, 12):
        bc.publish(_packet(pts, False), 0)
    assert asked == [("weak", 0)]


def test_moving_up_to_a_rung_others_watch_waits_for_its_periodic_keyframe() -> None:
    asked: list[int] = []
    bc = Broadcaster("video", 8)
    track = bc.subscribe(asked.append, rung=1)
    track.move_to(0, ask_keyframe=False)
    assert asked == [] and track.target == 0 and bc.active == {0, 1}
    track.need_keyframe_now()  # a PLI while waiting: its own rung, not the shared one
    assert asked == [1]
    bc.publish(_packet(1, False), 0)
    assert track.rung == 1  # a delta of rung 0: not yet
    bc.publish(_packet(2, True), 0)
    assert (track.rung, track.target) == (0, None)
    track.move_to(1)  # down (or to a rung nobody else watches): asked at once
    assert asked == [1, 1]


async def test_a_switch_keyframe_never_repeats_a_timestamp_already_sent() -> None:
    bc = Broadcaster("video", 8)
    track = bc.subscribe()
    track._started = True  # (the sender's first read asks for a keyframe; not under test)
    p0 = av.Packet(b"a")
    p0.pts, p0.is_keyframe = 100, True
    bc.publish(p0, 0)
    assert (await track.recv()).pts == 100  # handed to the sender
    track.move_to(1)
    k1 = av.Packet(b"b")
    k1.pts, k1.is_keyframe = 100, True  # the same grab, encoded for rung 1 after rung 0
    bc.publish(k1, 1)
    sent = await track.recv()
    assert (sent.pts, bytes(sent), track.rung) == (101, b"b", 1)
    assert k1.pts == 100  # the shared packet is untouched (other viewers get it as is)


async def test_the_answer_negotiates_remb_and_abs_send_time(room: Room) -> None:
    peer = Peer()
    try:
        answer = await peer.join(room.peers, "a")
        video = answer.split("m=video", 1)[1].split("m=audio", 1)[0]
        assert "goog-remb" in video
        assert "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time" in video
    finally:
        await peer.close()


async def test_viewers_on_two_rungs_decode_their_own_resolution_and_plis_stay_on_theirs(
    room: Room,
) -> None:
    good, weak = Peer(), Peer()
    try:
        await good.join(room.peers, "good")
        await weak.join(room.peers, "weak")
        await until(lambda: good.input.readyState == weak.input.readyState == "open", 10, "dc")
        # the weak viewer caps itself at 480p (0x0B): only it moves, at rung 1's keyframe
        weak.input.send(quality_wire.encode_cap(480))
        await until(lambda: room.track("weak").target == 1, 5, "the cap was not taken")
        for _ in range(10):
            await room.frames(5)
            if room.track("weak").rung == 1 and weak.frames and weak.frames[-1][1] == 480:
                break
        await until(lambda: bool(good.frames) and bool(weak.frames), 10, "no frames decoded")
        assert room.track("weak").rung == 1 and room.track("good").rung == 0
        assert weak.frames[-1][:2] == (854, 480)
        assert good.frames[-1][:2] == (1280, 720)
        assert room.video.rungs[1].active and room.video.rungs[0].active
        # the status tells the weak viewer its rung and that its own cap is why
        await until(lambda: any(s[:2] == (854, 480) for s in weak.status), 5, "no status")
        w, h, fps, flags, kbps, cap = weak.status[-1]
        assert (w, h, fps, flags & quality_wire_capped(), cap) == (854, 480, 30, 2, 480)
        assert kbps > 0

        # keyframe isolation: PLIs from the weak viewer ask only rung 1 for keyframes
        await room.frames(5)
        top_keyframes = room.video.rungs[0].keyframes
        good_keys = sum(1 for f in good.frames if f[2])
        weak_keyframes = room.video.rungs[1].keyframes
        for _ in range(4):
            await weak.pli(room.peers, "weak")
            await room.frames(12)  # 0.36 s: past the coalescing gap
        assert room.video.rungs[1].keyframes >= weak_keyframes + 2
        assert room.video.rungs[0].keyframes == top_keyframes
        assert sum(1 for f in good.frames if f[2]) == good_keys
        # coalesced: four PLIs in a burst make at most one keyframe (plus one deferred)
        before = room.video.rungs[1].keyframes
        for _ in range(4):
            await weak.pli(room.peers, "weak")
        await room.frames(3)
        assert room.video.rungs[1].keyframes - before <= 1

        # back to Auto: up to the rung the good viewer watches, at that rung's periodic
        # keyframe; no keyframe is asked of it for the weak viewer's sake
        top_keyframes = room.video.rungs[0].keyframes
        weak.input.send(quality_wire.encode_cap(0))
        await until(lambda: room.track("weak").target == 0, 5, "the cap was not lifted")
        await room.frames(12)
        assert room.video.rungs[0].keyframes == top_keyframes
        assert (room.track("weak").rung, room.track("weak").target) == (1, 0)
    finally:
        await good.close()
        await weak.close()


def quality_wire_capped() -> int:
    from roomagent.media.estimate import CAPPED

    return CAPPED


async def test_a_rung_nobody_is_on_is_not_encoded(room: Room) -> None:
    peer = Peer()
    try:
        await peer.join(room.peers, "only")
        await room.frames(5)
        assert [r.frames for r in room.video.rungs[1:]] == [0, 0, 0]
        assert room.video.rungs[0].frames == 5
    finally:
        await peer.close()


def test_malformed_quality_messages_are_ignored() -> None:
    assert quality_wire.decode_cap(b"\x0b\xe0") is None
    assert quality_wire.decode_cap(b"\x0b\xe0\x01") == 480
    assert quality_wire.decode_stats(b"\x0c" + b"\x00" * 29) is None
    stats = quality_wire.decode_stats(b"\x0c" + bytes(range(28)) + b"\x05\x00")
    assert stats is not None and stats.jitter_buffer_delay_ms == 5


def _keyframe_bytes(settings: AgentSettings, rung: Rung) -> int:
    """The size of a rung encoder's refresh keyframe in a stream of busy detail: a texture of
    2-pixel blocks panning 2 pixels a frame (the bench's busy page in miniature), a keyframe
    forced at the 30th picture, once the rate control has settled."""
    encoder = make_encoder(settings, rung)
    rng = random.Random(7)
    wide = rung.width + 100
    blocks = [rng.randbytes(wide // 2 + 1) for _ in range(rung.height // 2 + 1)]
    texture = [bytes(blocks[y // 2][x // 2] for x in range(wide)) for y in range(rung.height)]
    size = 0
    for i in range(32):
        frame = av.VideoFrame(rung.width, rung.height, "yuv420p")
        luma = frame.planes[0]
        luma.update(
            b"".join(
                row[2 * i : 2 * i + rung.width].ljust(luma.line_size, b"\0") for row in texture
            )
        )
        for chroma in frame.planes[1:]:
            chroma.update(bytes([128]) * chroma.buffer_size)
        frame.pts, frame.time_base = i * 3000, VIDEO_TIME_BASE
        frame.pict_type = PictureType.I if i == 30 else PictureType.NONE
        for packet in encoder.encode(frame):
            if i >= 30 and packet.is_keyframe:
                size = packet.size
    return size


def test_a_lower_rungs_keyframe_fits_an_eighth_of_a_second_of_its_bitrate() -> None:
    """A weak viewer's link is not much faster than its rung, and Chromium counts a frame later
    than its mean interval + 150 ms as a freeze: a 480p keyframe of a quarter second of the
    rung's bitrate froze a 1.2 Mbit/s + 2 % viewer 1.2-1.5 s in 30 s, one piece at each
    refresh. The rungs below the top bound it to `lower_rung_keyframe_s` (an eighth of a
    second); the top rung keeps half a second."""
    settings = AgentSettings(codec="h264", quality="latency")
    ladder = settings.rungs()

    def seconds_of(rung: Rung, nbytes: int) -> float:
        return nbytes * 8 / (rung.kbps * 1000)

    assert seconds_of(ladder[1], _keyframe_bytes(settings, ladder[1])) <= 0.125 * 1.15
    top = seconds_of(ladder[0], _keyframe_bytes(settings, ladder[0]))
    assert 0.125 * 1.15 < top <= 0.5 * 1.15
