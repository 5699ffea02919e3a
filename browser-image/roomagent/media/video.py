"""One x11grab capture and one encoder per room; packets go to a Broadcaster on the loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from fractions import Fraction
from typing import Any

import av
from av.video.frame import PictureType

from ..config import AgentSettings
from .fanout import Broadcaster, FrameBroadcaster

log = logging.getLogger("roomagent.video")

VIDEO_TIME_BASE = Fraction(1, 90000)
# x11grab's own frame rate: high enough that it never sleeps; the capture loop paces itself.
GRAB_RATE = 1000


def h264_level(width: int, height: int, fps: int) -> str:
    """Smallest H.264 level whose macroblock rate covers the stream."""
    mbs = ((width + 15) // 16) * ((height + 15) // 16)
    rate = mbs * fps
    for level, max_fs, max_mbps in (
        ("3.1", 3600, 108000),
        ("3.2", 5120, 216000),
        ("4.0", 8192, 245760),
        ("4.2", 8704, 522240),
        ("5.1", 36864, 983040),
    ):
        if mbs <= max_fs and rate <= max_mbps:
            return level
    return "5.1"


def profile_level_id(level: str) -> str:
    """Constrained Baseline profile-level-id for SDP (e.g. 42e01f for level 3.1)."""
    return "42e0" + format(round(float(level) * 10), "02x")


def make_encoder(settings: AgentSettings) -> av.VideoCodecContext:
    kbps = settings.bitrate_kbps
    if settings.codec == "h264":
        ctx = av.CodecContext.create("libx264", "w")
        level = h264_level(settings.width, settings.height, settings.fps)
        options: dict[str, str] = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "level": level,
            "forced-idr": "1",
            "x264-params": (
                f"vbv-maxrate={kbps}:vbv-bufsize={max(kbps // 2, 100)}:"
                "nal-hrd=none:repeat-headers=1:aud=0"
            ),
        }
    else:
        ctx = av.CodecContext.create("libvpx", "w")
        options = {
            "deadline": "realtime",
            "cpu-used": "16",
            "lag-in-frames": "0",
            "auto-alt-ref": "0",
            "error-resilient": "1",
            "static-thresh": "0",
            "undershoot-pct": "95",
            "noise-sensitivity": "0",
        }
        ctx.qmin = 4
        ctx.qmax = 56
    assert isinstance(ctx, av.VideoCodecContext)
    ctx.width = settings.width
    ctx.height = settings.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = VIDEO_TIME_BASE
    ctx.framerate = Fraction(settings.fps, 1)
    ctx.bit_rate = kbps * 1000
    ctx.gop_size = max(1, int(settings.keyframe_interval_s * settings.fps))
    ctx.max_b_frames = 0
    ctx.thread_count = settings.encoder_threads or (1 if settings.codec == "vp8" else 2)
    ctx.options = options
    return ctx


class VideoPipeline:
    """Captures the display, encodes once, publishes encoded packets on the event loop."""

    def __init__(
        self,
        settings: AgentSettings,
        display: str,
        broadcaster: Broadcaster,
        t0: float,
        frames: FrameBroadcaster | None = None,
    ) -> None:
        self.settings = settings
        self.display = display
        self.broadcaster = broadcaster
        # per-viewer-encoding baseline: publish raw frames instead of encoding them here
        self.frames = frames if settings.encode_mode == "per_viewer" else None
        self.t0 = t0
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._wake = threading.Event()  # stop, or an input boost began
        self._boost_until = 0.0
        self._thread: threading.Thread | None = None
        self._force_keyframe = False
        self._last_keyframe = 0.0
        self._pending_kf: asyncio.TimerHandle | None = None
        self.done: asyncio.Future[None] = self._loop.create_future()
        self.first_packet: asyncio.Future[None] = self._loop.create_future()
        # statistics (read by the loop, written by the capture thread)
        self.frames_encoded = 0
        self.keyframes = 0
        self.encode_seconds = 0.0
        self.capture_seconds = 0.0
        self.keyframe_requests = 0
        self.ticks_skipped = 0
        self.idle_ticks = 0  # ticks with no viewer: nothing grabbed or encoded
        self.boosted_frames = 0  # frames grabbed at the input-boost rate
        # CPU time of the capture thread (grab + convert + encode; libx264's slice threads not
        # included)
        self.cpu_seconds = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="video-capture", daemon=True)
        self._thread.start()

    def boost(self) -> None:
        """The holder acted: capture faster for a moment (see AgentSettings.input_boost_fps)."""
        s = self.settings
        if s.input_boost_fps <= s.fps or s.input_boost_s <= 0:
            return
        if len(self.broadcaster.tracks) > s.input_boost_max_viewers:
            return
        starting = time.monotonic() >= self._boost_until
        self._boost_until = time.monotonic() + s.input_boost_s
        if starting:
            self._wake.set()

    def request_keyframe(self) -> None:
        """Ask the shared encoder for a keyframe; rate-limited, never dropped (deferred)."""
        self.keyframe_requests += 1
        if self._force_keyframe or self._pending_kf is not None:
            return
        gap = self.settings.keyframe_min_gap_ms / 1000
        wait = self._last_keyframe + gap - time.monotonic()
        if wait <= 0:
            self._force_keyframe = True
        else:
            self._pending_kf = self._loop.call_later(wait, self._fire_deferred)

    def _fire_deferred(self) -> None:
        self._pending_kf = None
        self._force_keyframe = True

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._pending_kf is not None:
            self._pending_kf.cancel()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)

    def _publish(self, packet: av.Packet) -> None:
        if packet.is_keyframe:
            self._last_keyframe = time.monotonic()
        if not self.first_packet.done():
            self.first_packet.set_result(None)
        self.broadcaster.publish(packet)

    def _publish_frame(self, frame: av.VideoFrame) -> None:
        if not self.first_packet.done():
            self.first_packet.set_result(None)
        assert self.frames is not None
        self.frames.publish(frame)

    def _finish(self, exc: BaseException | None) -> None:
        if self.done.done():
            return
        if exc is None:
            self.done.set_result(None)
        else:
            self.done.set_exception(exc)

    def _run(self) -> None:
        exc: BaseException | None = None
        try:
            self._capture_loop()
        except BaseException as e:
            if not self._stop.is_set():
                log.exception("video capture failed")
                exc = e
        self._loop.call_soon_threadsafe(self._finish, exc)

    def _capture_loop(self) -> None:
        """Grab, convert and encode one frame per tick of a monotonic clock.

        x11grab paces itself and, after a stall, returns the frames it "missed" back to back (a
        burst of more than ``fps`` frames a second, each costing an encode and adding latency).
        We pace instead: x11grab is opened at a rate it never waits for, grabs happen exactly on
        our ticks, and ticks missed while the machine was busy are skipped, not caught up.
        """
        s = self.settings
        options = {
            "video_size": f"{s.width}x{s.height}",
            # never sleeps inside x11grab: every demux call grabs the screen as it is now
            "framerate": str(GRAB_RATE),
            "draw_mouse": "0",
        }
        container: Any = av.open(f"{self.display}+0,0", format="x11grab", options=options)
        encoder = make_encoder(s)
        normal = 1.0 / s.fps
        boosted = 1.0 / max(s.fps, s.input_boost_fps or s.fps)
        try:
            stream = container.streams.video[0]
            packets = container.demux(stream)
            tick = time.monotonic()
            while not self._stop.is_set():
                now = time.monotonic()
                if now < tick:
                    if self._wake.wait(tick - now):
                        self._wake.clear()
                        # A boost began: the next grab one boosted interval from now (the page
                        # needs that long to paint the change anyway), not a whole frame away.
                        tick = min(tick, time.monotonic() + boosted)
                        continue
                    now = time.monotonic()
                is_boosted = now < self._boost_until
                interval = boosted if is_boosted else normal
                late = int((now - tick) / interval)
                if late > 0:
                    self.ticks_skipped += late
                    tick += late * interval
                tick += interval
                if self._nobody_watching():
                    # An unchanged room with no viewers should cost nothing: no grab, no encode.
                    # Whoever joins next starts from a keyframe.
                    self._force_keyframe = True
                    self.idle_ticks += 1
                    continue
                started = time.perf_counter()
                cpu0 = time.thread_time()
                self.boosted_frames += is_boosted
                packet = next(packets, None)
                if packet is None:
                    raise RuntimeError("x11grab stopped delivering frames")
                for frame in packet.decode():
                    self._encode(encoder, frame, started, cpu0)
        finally:
            container.close()

    def _nobody_watching(self) -> bool:
        # Read from the capture thread: len() of a set and a future's state are atomic reads.
        return self.frames is None and not self.broadcaster.tracks and self.first_packet.done()

    def _encode(
        self, encoder: av.VideoCodecContext, frame: av.VideoFrame, started: float, cpu0: float
    ) -> None:
        captured = time.monotonic()
        # bgr0 -> yuv420p once, in C (swscale); no per-pixel work in Python
        image = frame.reformat(format="yuv420p")
        converted = time.perf_counter()
        image.pts = int((captured - self.t0) * 90000)
        image.time_base = VIDEO_TIME_BASE
        # x11grab's raw frames come marked as I pictures: clear that, or every frame is an IDR
        image.pict_type = PictureType.NONE
        if self.frames is not None:
            self.frames_encoded += 1
            self.capture_seconds += converted - started
            self.cpu_seconds += time.thread_time() - cpu0
            self._loop.call_soon_threadsafe(self._publish_frame, image)
            return
        if self._force_keyframe:
            self._force_keyframe = False
            image.pict_type = PictureType.I
        packets = encoder.encode(image)
        done = time.perf_counter()
        self.frames_encoded += 1
        self.capture_seconds += converted - started
        self.encode_seconds += done - converted
        self.cpu_seconds += time.thread_time() - cpu0
        for p in packets:
            p.time_base = VIDEO_TIME_BASE
            if p.is_keyframe:
                self.keyframes += 1
            self._loop.call_soon_threadsafe(self._publish, p)
