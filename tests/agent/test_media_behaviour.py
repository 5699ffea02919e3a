"""Issue 12 behaviour (not timings): capture-time stamps and sender reports, damage-driven grabs,
no media work while nobody watches."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import psutil
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtp import RtcpSrPacket
from roomagent.config import AgentSettings
from roomagent.media.audio import RATE, CaptureStamper
from roomagent.media.clock import NTP_UNIX_OFFSET, map_sender_reports
from roomagent.media.fanout import Broadcaster
from roomagent.media.video import VideoPipeline
from Xlib import X
from Xlib.display import Display

from tests.support.agent import AgentProcess, FakeControlPlane, Viewer, start_agent
from tests.support.frames import is_colour, pixel
from tests.support.waits import until

pytestmark = pytest.mark.x11


# lip sync: timestamps are capture times --------------------------------------------------------
def test_audio_stamps_follow_capture_times_not_late_reads() -> None:
    t0 = 100.0
    stamper = CaptureStamper(t0)
    frame = 960
    captured_first = 105.0  # the first sample of the first chunk was captured at t = 105 s
    pts = []
    for i in range(50):
        ends = captured_first + (i + 1) * frame / RATE
        late = 0.030 if i % 3 == 0 else 0.0  # a busy loop reads some chunks 30 ms late
        pts.append(stamper.stamp(ends + late, frame))
    # the first read happened to be late: once an on-time read is seen the stamps are re-anchored
    # to the true capture times, then count samples (contiguous, no jitter)
    assert pts[1] == round((captured_first - t0) * RATE) + frame
    assert all(b - a == frame for a, b in itertools.pairwise(pts[1:]))
    # samples lost on a long stall: the stamps jump with the capture clock, never overlap
    ends = captured_first + 60 * frame / RATE  # ten chunks (200 ms) never arrived
    for i in range(120):  # reads resume on time; the old anchor ages out of the window
        last = stamper.stamp(ends + i * frame / RATE, frame)
    assert last == round((ends + 119 * frame / RATE - frame / RATE - t0) * RATE)


async def test_sender_reports_map_rtp_time_to_capture_not_send_time() -> None:
    """Packets captured 300 ms before they are sent: the SR must say so."""
    t0 = time.monotonic()
    bc = Broadcaster("audio", 8)
    track = bc.subscribe()
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    sent: list[RtcpSrPacket] = []
    try:
        sender = sender_pc.addTransceiver(track, direction="sendonly").sender
        original = sender._send_rtcp

        async def record(packets: list[Any]) -> None:
            sent.extend(p for p in packets if isinstance(p, RtcpSrPacket))
            await original(packets)

        sender._send_rtcp = record  # type: ignore[method-assign]
        clock = map_sender_reports(sender, RATE, t0)
        assert clock is not None, "aiortc lost the hooks the capture-clock mapping needs"
        receiver_pc.addTransceiver("audio", direction="recvonly")
        await receiver_pc.setLocalDescription(await receiver_pc.createOffer())
        await sender_pc.setRemoteDescription(receiver_pc.localDescription)
        await sender_pc.setLocalDescription(await sender_pc.createAnswer())
        await receiver_pc.setRemoteDescription(
            RTCSessionDescription(sdp=sender_pc.localDescription.sdp, type="answer")
        )
        encoder = av.CodecContext.create("libopus", "w")
        assert isinstance(encoder, av.AudioCodecContext)
        encoder.sample_rate, encoder.layout, encoder.format = RATE, "stereo", "s16"
        encoder.time_base = Fraction(1, RATE)
        delay = 0.300
        start = time.monotonic()
        samples = round((start - delay - t0) * RATE)
        deadline = start + 15
        while len(sent) < 2 and time.monotonic() < deadline:
            frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
            frame.planes[0].update(bytes(960 * 4))
            frame.sample_rate, frame.pts, frame.time_base = RATE, samples, Fraction(1, RATE)
            samples += 960
            for p in encoder.encode(frame):
                p.time_base = Fraction(1, RATE)
                bc.publish(p)
            await asyncio.sleep(
                max(0.0, start + (samples / RATE + t0 + delay - start) - time.monotonic())
            )
        assert len(sent) >= 2, "no sender report"
        assert clock.origin is not None
        for sr in sent[1:]:
            info = sr.sender_info
            ticks = (info.rtp_timestamp - clock.origin) % (1 << 32)
            captured_wall = time.time() - (time.monotonic() - (t0 + ticks / RATE))
            reported_wall = info.ntp_timestamp / (1 << 32) - NTP_UNIX_OFFSET
            # aiortc alone would report the send time, 300 ms after the capture
            assert abs(reported_wall - captured_wall) < 0.005, reported_wall - captured_wall
    finally:
        await sender_pc.close()
        await receiver_pc.close()


# damage-driven capture and idle video ----------------------------------------------------------
@contextlib.contextmanager
def xvfb_server(*args: str) -> Iterator[str]:
    """A 320x240 Xvfb of our own (extra server arguments: `args`); yields its display name."""
    rfd, wfd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(wfd), "-screen", "0", "320x240x24", "-nolisten", "tcp", *args],
        pass_fds=(wfd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(wfd)
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(rfd, 64)
        assert chunk, "Xvfb did not start"
        data += chunk
    os.close(rfd)
    try:
        yield ":" + data.decode().strip()
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.fixture(scope="module")
def xvfb() -> Iterator[str]:
    with xvfb_server() as display:
        yield display


def paint(display: str, colour: int) -> None:
    """Draw on a window of the display, as Chromium's compositor does."""
    d = Display(display)
    try:
        screen = d.screen()
        win = screen.root.create_window(
            0, 0, 320, 240, 0, screen.root_depth, X.InputOutput, X.CopyFromParent
        )
        win.map()
        gc = win.create_gc(foreground=colour)
        win.fill_rectangle(gc, 0, 0, 160, 120)
        d.sync()
    finally:
        d.close()


class Painter:
    """A window over the whole display, filled on demand, that stays until closed (the window
    `paint` draws goes away with its connection)."""

    def __init__(self, display: str) -> None:
        self.d = Display(display)
        screen = self.d.screen()
        self.size = (screen.width_in_pixels, screen.height_in_pixels)
        self.win = screen.root.create_window(
            0, 0, *self.size, 0, screen.root_depth, X.InputOutput, X.CopyFromParent
        )
        self.win.map()

    def fill(self, colour: int) -> None:
        gc = self.win.create_gc(foreground=colour)
        self.win.fill_rectangle(gc, 0, 0, *self.size)
        self.d.sync()

    def close(self) -> None:
        self.d.close()


async def first_colour(track: Any) -> tuple[int, int, int]:
    """The centre pixel of the first frame decoded from a video track's packets."""
    decoder = av.CodecContext.create("h264", "r")
    while True:
        packet = await asyncio.wait_for(track.recv(), 2)
        for frame in decoder.decode(packet):
            assert isinstance(frame, av.VideoFrame)
            return pixel(frame, frame.width // 2, frame.height // 2)


def video_settings(**kw: Any) -> AgentSettings:
    return AgentSettings(
        width=320, height=240, fps=30, keyframe_interval_s=30, input_boost_fps=0, audio=False, **kw
    )


async def started(settings: AgentSettings, display: str) -> tuple[VideoPipeline, Broadcaster]:
    bc = Broadcaster("video", 4)
    video = VideoPipeline(settings, display, bc, time.monotonic())
    bc.on_change.append(video.wake)
    video.start()
    try:
        await asyncio.wait_for(asyncio.shield(video.first_packet), 10)
    except BaseException:
        await video.stop()
        raise
    return video, bc


@pytest.fixture
async def pipeline(xvfb: str) -> AsyncIterator[tuple[VideoPipeline, Broadcaster]]:
    video, bc = await started(video_settings(capture="damage"), xvfb)
    try:
        yield video, bc
    finally:
        await video.stop()


async def test_damage_triggers_a_grab_and_a_static_screen_is_not_grabbed(
    pipeline: tuple[VideoPipeline, Broadcaster], xvfb: str
) -> None:
    video, bc = pipeline
    assert video.damage_driven
    track = bc.subscribe(on_need_keyframe=video.request_keyframe)
    # the join keyframe's grab is done once its packet is out (not after a fixed time, which a
    # busy box may overrun: its grab would then land in the window below)
    await asyncio.wait_for(track.recv(), 10)
    grabs = video.grabs
    await asyncio.sleep(0.5)
    assert video.grabs == grabs, "an unchanged screen was grabbed"
    # a keyframe asked for while nothing changes (a new viewer, a PLI) is still sent
    keyframes = video.keyframes
    video.request_keyframe()
    await until(lambda: video.keyframes > keyframes, 2, "no keyframe of a static screen")
    for colour in (0xFF0000, 0x00FF00, 0x0000FF):
        grabs = video.grabs
        await asyncio.to_thread(paint, xvfb, colour)
        await until(lambda: video.grabs > grabs, 2, "a paint was not grabbed")  # noqa: B023
        await asyncio.sleep(0.1)
    track.stop()


async def test_unwatched_video_stops_and_resumes_for_a_new_viewer(
    pipeline: tuple[VideoPipeline, Broadcaster], xvfb: str
) -> None:
    video, bc = pipeline
    assert not bc.tracks
    # The start's own first grab is encoded whoever watches (its packet says the room is
    # ready): count from after it (on a busy box the counters were read between that grab and
    # its encode, and its encode was taken for work done for nobody).
    await until(
        lambda: video.first_packet.done() and video.frames_encoded == video.grabs,
        10,
        "the start's first frame was not encoded",
    )
    grabs, encoded = video.grabs, video.frames_encoded
    for colour in (0xFF00FF, 0x00FFFF):  # the screen changes, nobody watches
        await asyncio.to_thread(paint, xvfb, colour)
        await asyncio.sleep(0.2)
    assert (video.grabs, video.frames_encoded) == (grabs, encoded), "worked for nobody"
    track = bc.subscribe(on_need_keyframe=video.request_keyframe)
    packet = await asyncio.wait_for(track.recv(), 2)  # the thread woke: a keyframe at once
    assert packet.is_keyframe
    track.stop()


async def test_what_changed_while_nobody_watched_is_the_first_frame_a_viewer_decodes(
    pipeline: tuple[VideoPipeline, Broadcaster], xvfb: str
) -> None:
    # The screen changes while nobody watches (a warm room handed over, a navigation): the next
    # viewer's first frame shows the screen as it is now, not as it was when capture began.
    video, bc = pipeline
    painter = Painter(xvfb)
    try:
        for colour, rgb in ((0xFF0000, (255, 0, 0)), (0x0000FF, (0, 0, 255))):
            painter.fill(colour)
            await asyncio.sleep(0.2)
            track = bc.subscribe(on_need_keyframe=video.request_keyframe)
            got = await first_colour(track)
            track.stop()
            assert is_colour(got, rgb), (hex(colour), got)
    finally:
        painter.close()


async def test_a_viewer_after_an_unwatched_period_gets_a_fresh_grab(
    pipeline: tuple[VideoPipeline, Broadcaster],
) -> None:
    # Nothing changed while nobody watched, as far as DAMAGE told: the new viewer's keyframe is
    # still a grab of the screen now, not the picture kept from before the wait re-encoded.
    video, bc = pipeline
    idle = 0  # asleep since its first packet
    for _ in range(2):
        await until(lambda: video.idle_waits > idle, 2, "capture never went idle")  # noqa: B023
        grabs, repeats = video.grabs, video.repeats
        track = bc.subscribe(on_need_keyframe=video.request_keyframe)
        packet = await asyncio.wait_for(track.recv(), 2)
        assert packet.is_keyframe
        assert video.grabs > grabs and video.repeats == repeats, (grabs, repeats, video.grabs)
        idle = video.idle_waits
        track.stop()


async def test_an_x_server_without_damage_is_captured_on_the_clock() -> None:
    with xvfb_server("-extension", "DAMAGE") as display:
        settings = video_settings()
        assert settings.capture == "damage"  # the default, which needs the fallback
        video, bc = await started(settings, display)
        try:
            assert not video.damage_driven
            track = bc.subscribe(on_need_keyframe=video.request_keyframe)
            await asyncio.wait_for(track.recv(), 2)
            grabs = video.grabs
            await asyncio.sleep(1.0)
            # A static screen, grabbed on every tick all the same (damage would grab nothing).
            assert video.grabs - grabs >= 10, video.grabs - grabs
            assert video.repeats == 0 and video.damage_events == 0
            track.stop()
        finally:
            await video.stop()


# the whole room ----------------------------------------------------------------------------------
async def test_page_loaded_while_nobody_watched_is_the_first_frame_a_viewer_decodes(
    log_dir: Path,
) -> None:
    # A room nobody has watched yet (as a warm-pool room is) goes to another page; its first
    # viewer's first decoded frame shows that page. Capture as configured by default.
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(cp, width=640, height=360)  # starts on about:blank (white)
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", 45)
        assert (await cp.heartbeat())["damage_driven"]
        page2 = cp.page_url("page2.html")
        await cp.send("browser.navigate", {"url": page2})
        await cp.wait_for(
            lambda m: (
                m["type"] == "browser.status"
                and m["data"]["url"] == page2
                and not m["data"]["loading"]
            ),
            15,
        )
        await asyncio.sleep(0.5)  # painted by now; nothing is grabbed while nobody watches
        viewer = Viewer(cp, "first")
        await viewer.connect()
        try:
            await viewer.wait_frame(lambda f: True, 10)
            assert viewer.first is not None
            got = pixel(viewer.first, viewer.first.width // 2, viewer.first.height // 2)
            assert is_colour(got, (0, 160, 0)), got  # page2.html's background
        finally:
            await viewer.close()
    finally:
        with contextlib.suppress(Exception):
            await agent.stop()
        await cp.stop()


def has_parec(pid: int) -> bool:
    return any(p.name() == "parec" for p in psutil.Process(pid).children(recursive=True))


async def test_unwatched_room_does_no_media_work_and_resumes(log_dir: Path) -> None:
    cp, agent = await start_agent(log_dir, extra_env={"WP_IDLE_GRACE_S": "0.5"})
    assert agent.proc is not None
    try:
        await cp.wait_for(lambda m: m["type"] == "heartbeat" and not m["data"]["audio_running"], 15)
        assert not has_parec(agent.proc.pid)
        await cp.heartbeat()
        hb0 = await cp.heartbeat()
        await asyncio.sleep(2.0)  # the page animates and plays a tone the whole time
        hb1 = await cp.heartbeat()
        for key in ("grabs", "frames_encoded", "audio_frames", "cursor_polls"):
            assert hb1[key] == hb0[key], (key, hb0[key], hb1[key])

        viewer = Viewer(cp, "late")
        await viewer.connect()
        try:
            await viewer.wait_frame(lambda f: True, 10)
            await until(lambda: any(r > 500 for _, r in viewer.audio_rms), 10, "no sound")
            hb2 = await cp.heartbeat()
            assert hb2["audio_running"] and has_parec(agent.proc.pid)
            assert hb2["cursor_polls"] > hb1["cursor_polls"]
            assert hb2["frames_encoded"] > hb1["frames_encoded"]
        finally:
            await viewer.close()
        await cp.wait_for(lambda m: m["type"] == "heartbeat" and not m["data"]["audio_running"], 15)
    finally:
        with contextlib.suppress(Exception):
            await agent.stop()
        await cp.stop()
