"""One x11grab capture per room, encoded once per ladder rung in use; packets go to a Broadcaster
on the loop, tagged with their rung.

The capture is converted once (bgr0 -> yuv420p); each rung some viewer is on (or moving to) is
scaled from it and encoded by that rung's own encoder. A rung nobody is on is neither scaled nor
encoded; when it is needed again its first picture is a keyframe. Keyframe requests are per rung
(a viewer's PLI asks its own rung only), coalesced to one per rung per ``keyframe_min_gap_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
from av.video.frame import PictureType
from Xlib import X
from Xlib.display import Display
from Xlib.ext import damage

from ..config import AgentSettings
from .fanout import Broadcaster, FrameBroadcaster
from .ladder import Rung

log = logging.getLogger("roomagent.video")

VIDEO_TIME_BASE = Fraction(1, 90000)
# x11grab's own frame rate: high enough that it never sleeps; the capture loop paces itself.
GRAB_RATE = 1000
# av.open runs avformat_find_stream_info, which grabs the screen to learn what a raw grab already
# says and keeps those packets for the first demux calls: by default ~18 grabs at GRAB_RATE, all
# showing the screen as it was at open. On the clock they were gone within the first half second;
# with damage-driven capture every grab consumed one of them, so the first ~18 grabs of a room
# (all of a warm room's, which waits unwatched) published a picture from the room's start. Probe
# as little as FFmpeg allows (one packet) and drop what was probed (`skip_probed`).
PROBE_OPTIONS = {"analyzeduration": "0", "fpsprobesize": "0", "probesize": "32"}
# At most this many packets are taken for probed ones (FFmpeg keeps ~18 with default probing).
MAX_PROBED = 64


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


# WP_QUALITY: (x264 preset, libvpx cpu-used, bitrate factor). All keep zerolatency / realtime,
# Constrained Baseline and no B-frames; the CPU each costs is in docs/performance.md.
QUALITY: dict[str, tuple[str, int, float]] = {
    "latency": ("ultrafast", 16, 1.0),
    "balanced": ("superfast", 12, 1.25),
    "quality": ("veryfast", 8, 1.5),
}


def open_x11grab(display: str, width: int, height: int) -> tuple[Any, Iterator[av.Packet]]:
    """x11grab on `display` and its packets, each one grabbed when it is taken (none probed)."""
    options = {
        "video_size": f"{width}x{height}",
        # never sleeps inside x11grab: every demux call grabs the screen as it is now
        "framerate": str(GRAB_RATE),
        "draw_mouse": "0",
        **PROBE_OPTIONS,
    }
    before = time.time()
    container: Any = av.open(f"{display}+0,0", format="x11grab", options=options)
    opened = time.time()
    packets = container.demux(container.streams.video[0])
    return container, skip_probed(packets, before, opened)


def skip_probed(packets: Iterator[av.Packet], before: float, opened: float) -> Iterator[av.Packet]:
    """`packets` without those grabbed while av.open probed (between `before` and `opened`).

    x11grab stamps each packet with the wall clock (microseconds) when it grabbed it. A packet
    stamped outside that window ends the skipping (at most MAX_PROBED), so an FFmpeg stamping
    otherwise costs nothing but its one probed packet, which the room's first grab, made as it
    starts, takes."""
    skipped = 0
    for packet in packets:
        stamp = float(packet.pts * packet.time_base) if packet.pts is not None else None
        if skipped < MAX_PROBED and stamp is not None and before <= stamp <= opened:
            skipped += 1
            continue
        if skipped:
            log.debug("dropped %d probed grabs", skipped)
        yield packet
        break
    yield from packets


def make_encoder(settings: AgentSettings, rung: Rung | None = None) -> av.VideoCodecContext:
    """The encoder of one rung (the room's own stream when `rung` is None)."""
    if rung is None:
        rung = Rung(settings.width, settings.height, settings.fps, settings.bitrate_kbps)
    preset, cpu_used, factor = QUALITY[settings.quality]
    kbps = round(rung.kbps * factor)
    lower = (rung.width, rung.height) != (settings.width, settings.height)
    # The VBV buffer bounds a keyframe: half a second of the bitrate on the top rung,
    # `lower_rung_keyframe_s` on the rungs below, whose viewers are on links not much faster
    # than the rung (a 480p keyframe of half a second took 0.4 s through a 1.2 Mbit/s link: a
    # freeze at every refresh)
    bufsize = max(round(kbps * settings.lower_rung_keyframe_s) if lower else kbps // 2, 100)
    if settings.codec == "h264":
        ctx = av.CodecContext.create("libx264", "w")
        level = h264_level(rung.width, rung.height, rung.fps)
        options: dict[str, str] = {
            "preset": preset,
            "tune": "zerolatency",
            "profile": "baseline",
            "level": level,
            "forced-idr": "1",
            "x264-params": (
                f"vbv-maxrate={kbps}:vbv-bufsize={bufsize}:nal-hrd=none:repeat-headers=1:aud=0"
            ),
        }
    else:
        ctx = av.CodecContext.create("libvpx", "w")
        options = {
            "deadline": "realtime",
            "cpu-used": str(cpu_used),
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
    ctx.width = rung.width
    ctx.height = rung.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = VIDEO_TIME_BASE
    ctx.framerate = Fraction(rung.fps, 1)
    ctx.bit_rate = kbps * 1000
    ctx.gop_size = max(1, int(settings.keyframe_interval_s * rung.fps))
    ctx.max_b_frames = 0
    # VP8's threads spin-wait; a rung below the top is small enough for one thread, whose CPU
    # is then all in the capture thread (and so in that rung's encode_cpu_percent)
    ctx.thread_count = settings.encoder_threads or (1 if settings.codec == "vp8" or lower else 2)
    ctx.options = options
    return ctx


class DamageWatch:
    """X DAMAGE on the room's display: one notification when the screen went from unchanged to
    changed (``DamageReportNonEmpty``), re-armed by ``subtract()`` just before each grab.

    Used only from the capture thread (python-xlib is not thread-safe)."""

    def __init__(self, display: Display) -> None:
        self.d = display
        self.d.damage_query_version()
        # python-xlib registers a per-display copy of the event class: match the event code
        self.notify = self.d.query_extension("DAMAGE").first_event + damage.DamageNotifyCode
        self.damage = self.d.screen().root.damage_create(damage.DamageReportNonEmpty)
        self.d.flush()

    @classmethod
    def open(cls, name: str) -> DamageWatch | None:
        """None where the X server has no DAMAGE: the caller falls back to its clock."""
        d = Display(name)
        if not d.has_extension("DAMAGE"):
            log.warning("X server without DAMAGE: capturing on the clock")
            d.close()
            return None
        return cls(d)

    def fileno(self) -> int:
        return int(self.d.fileno())

    def changed(self) -> bool:
        """Drain the X events; True if the screen changed since the last ``subtract()``."""
        changed = False
        while self.d.pending_events():
            event = self.d.next_event()
            changed = changed or event.type == self.notify
        return changed

    def subtract(self) -> None:
        self.d.damage_subtract(self.damage, X.NONE, X.NONE)
        self.d.flush()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.d.damage_destroy(self.damage)
            self.d.close()


class RungEncoder:
    """One rung's encoder and its keyframe bookkeeping.

    `force` is set on the loop (a keyframe asked for) and cleared by the capture thread when it
    encodes one; `pending`, `last_keyframe_loop` are the loop's; the rest is the capture thread's
    (the counters are read by the loop for heartbeats: plain int/float reads)."""

    def __init__(self, index: int, rung: Rung) -> None:
        self.index = index
        self.rung = rung
        self.encoder: av.VideoCodecContext | None = None
        self.force = True
        self.pending: asyncio.TimerHandle | None = None
        self.last_keyframe_loop = -1e9  # when its last keyframe was published (monotonic)
        self.last_keyframe = -1e9  # when its last keyframe was encoded (capture thread)
        self.last_encode = -1e9
        self.active = False
        # the capture it last scaled, and the result (re-encoded as is while the screen is still)
        self.source: av.VideoFrame | None = None
        self.scaled: av.VideoFrame | None = None
        self.frames = 0
        self.keyframes = 0
        self.keyframe_requests = 0
        self.cpu_seconds = 0.0  # scale + encode, this thread's CPU
        self.busy_seconds = 0.0  # scale + encode, wall time

    def image(self, source: av.VideoFrame) -> av.VideoFrame:
        if self.source is not source:
            r = self.rung
            same = source.width == r.width and source.height == r.height
            self.scaled = source if same else source.reformat(r.width, r.height, "yuv420p")
            self.source = source
        assert self.scaled is not None
        return self.scaled


@dataclass
class _Capture:
    """The capture loop's own state (capture thread only): what it grabs from, its pacing, and
    what it last grabbed and encoded."""

    packets: Iterator[av.Packet]
    watch: DamageWatch | None
    normal: float  # the frame interval
    boosted: float  # the frame interval while the input boost lasts
    settle: float  # after a paint is reported, wait this long for the rest of it
    refresh: float  # a keyframe at least this often
    floor: float | None  # repeat an unchanged screen at least this often (None: never)
    fds: list[int]
    dirty_since: float | None  # when DAMAGE first reported a paint not grabbed yet
    last_grab: float = -1e9
    last_encode: float = -1e9
    # The last converted grab: re-encoded (no grab, no conversion) while DAMAGE says the screen
    # is unchanged.
    last_image: av.VideoFrame | None = None


class VideoPipeline:
    """Captures the display, encodes once per rung in use, publishes packets on the loop."""

    def __init__(
        self,
        settings: AgentSettings,
        display: str,
        broadcaster: Broadcaster,
        t0: float,
        frames: FrameBroadcaster | None = None,
        ladder: list[Rung] | None = None,
    ) -> None:
        self.settings = settings
        self.ladder = ladder or settings.rungs()
        self.rungs = [RungEncoder(i, r) for i, r in enumerate(self.ladder)]
        self.display = display
        self.broadcaster = broadcaster
        # per-viewer-encoding baseline: publish raw frames instead of encoding them here
        self.frames = frames if settings.encode_mode == "per_viewer" else None
        self.t0 = t0
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        # Wakes the capture thread (a viewer came, a keyframe was asked for, a boost began, stop).
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.damage_driven = False
        self._boost_until = 0.0
        self._thread: threading.Thread | None = None
        self.done: asyncio.Future[None] = self._loop.create_future()
        self.first_packet: asyncio.Future[None] = self._loop.create_future()
        # statistics (read by the loop, written by the capture thread)
        self.frames_encoded = 0  # captures encoded (however many rungs each went to)
        self.encode_seconds = 0.0
        self.capture_seconds = 0.0
        self.keyframe_requests = 0
        self.ticks_skipped = 0
        self.grabs = 0
        self.repeats = 0  # encodes of the last grab (screen unchanged): no grab, no conversion
        self.damage_events = 0  # the screen changed (X DAMAGE) after a grab
        self.idle_waits = 0  # times the thread slept for want of a viewer
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
            self.wake()

    def request_keyframe(self, rung: int = 0) -> None:
        """Ask one rung's encoder for a keyframe; at most one per rung per keyframe_min_gap_ms
        (a request within the gap is deferred to its end, never dropped). Other rungs, and so
        the viewers on them, are not touched."""
        self.keyframe_requests += 1
        r = self.rungs[min(max(rung, 0), len(self.rungs) - 1)]
        r.keyframe_requests += 1
        if r.force or r.pending is not None:
            return
        gap = self.settings.keyframe_min_gap_ms / 1000
        wait = r.last_keyframe_loop + gap - time.monotonic()
        if wait <= 0:
            r.force = True
            self.wake()
        else:
            r.pending = self._loop.call_later(wait, self._fire_deferred, r)

    def _fire_deferred(self, r: RungEncoder) -> None:
        r.pending = None
        r.force = True
        self.wake()

    @property
    def keyframes(self) -> int:
        return sum(r.keyframes for r in self.rungs)

    async def stop(self) -> None:
        self._stop.set()
        self.wake()
        for r in self.rungs:
            if r.pending is not None:
                r.pending.cancel()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _publish(self, rung: int, packet: av.Packet) -> None:
        if packet.is_keyframe:
            self.rungs[rung].last_keyframe_loop = time.monotonic()
        if not self.first_packet.done():
            self.first_packet.set_result(None)
        self.broadcaster.publish(packet, rung)

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
        """Grab, convert and encode when the screen changed, at most ``fps`` times a second.

        With X DAMAGE (``WP_CAPTURE=damage``, the default) the X server tells us when Chromium
        painted: a change is grabbed as soon as it is on the display (after ``capture_settle_ms``
        for the rest of that paint to land), never sooner than one frame interval after the last
        grab (the frame rate is only a cap), and an unchanged screen is not grabbed at all. Without
        DAMAGE (or ``WP_CAPTURE=clock``) every tick of a monotonic clock grabs; ticks missed while
        the machine was busy are skipped, not caught up (x11grab, left to pace itself, returns the
        frames it "missed" back to back). Either way x11grab is opened at a rate it never waits for
        and without the grabs av.open probed (``open_x11grab``), so every demux call grabs the
        screen as it is now. A keyframe is encoded at least every
        ``keyframe_interval_s`` (a static screen costs one encode per period, nothing else). With
        nobody watching the thread sleeps until a viewer subscribes: no grab, no encode, no timer.
        """
        s = self.settings
        container, packets = open_x11grab(self.display, s.width, s.height)
        watch = DamageWatch.open(self.display) if s.capture == "damage" else None
        self.damage_driven = watch is not None
        c = _Capture(
            packets=packets,
            watch=watch,
            normal=1.0 / s.fps,
            boosted=1.0 / max(s.fps, s.input_boost_fps or s.fps),
            settle=s.capture_settle_ms / 1000,
            refresh=s.keyframe_interval_s,
            floor=1.0 / s.static_fps if s.static_fps > 0 else None,
            fds=[self._wake_r] + ([watch.fileno()] if watch is not None else []),
            dirty_since=time.monotonic(),
        )
        try:
            while not self._stop.is_set():
                self._capture_step(c)
        finally:
            container.close()
            if watch is not None:
                watch.close()

    def _capture_step(self, c: _Capture) -> None:
        """One turn of the capture loop: note damage, then sleep (nobody watching, or not due
        yet), encode the last image again, or grab and encode a new one."""
        if c.watch is not None and c.watch.changed() and c.dirty_since is None:
            c.dirty_since = time.monotonic()
            self.damage_events += 1
        if self._nobody_watching():
            self._idle(c)
            return
        now = time.monotonic()
        interval = c.boosted if now < self._boost_until else c.normal
        due = self._due(c, interval)
        if now < due:
            self._wait(c.fds, due - now)
            return
        late = int((now - due) / interval) if c.watch is None and c.last_grab > 0 else 0
        if late > 0:
            self.ticks_skipped += late
        if (
            c.watch is not None
            and c.dirty_since is None
            and c.last_image is not None
            and self.frames is None
        ):
            self._repeat(c, c.last_image)
            return
        self._grab(c, interval)

    def _idle(self, c: _Capture) -> None:
        """Nobody to send to: sleep until a viewer subscribes (or the screen changes, which is
        only noted). Whoever joins next starts from a keyframe of a fresh grab: the image of
        before the wait is dropped (and its memory with it), so what a viewer first sees never
        depends on DAMAGE having reported every change made while nobody watched (a
        navigation, a warm room's hand-over)."""
        for r in self.rungs:
            r.force = True
            r.source = r.scaled = None
        c.last_image = None
        self.idle_waits += 1
        self._wait(c.fds, None)

    def _due(self, c: _Capture, interval: float) -> float:
        """When the next grab (or repeat) is due, on the monotonic clock."""
        if c.watch is None:
            return c.last_grab + interval
        if c.dirty_since is not None:
            return max(c.last_grab + interval, c.dirty_since + c.settle)
        if any(r.force for r in self._active()):  # a keyframe of the unchanged screen
            return c.last_grab + interval
        # unchanged: the refresh keyframe, or a repeat at the static floor rate
        due = min(r.last_keyframe for r in self._active()) + c.refresh
        if c.floor is not None and c.last_image is not None:
            due = min(due, c.last_encode + c.floor)
        return due

    def _repeat(self, c: _Capture, image: av.VideoFrame) -> None:
        """Nothing was painted since the last grab: encode that image again (a keyframe asked
        for, the refresh, or a repeat; x264 makes a repeat a few skipped macroblocks that also
        sharpen a static page step by step)."""
        started = time.perf_counter()
        cpu0 = time.thread_time()
        at = time.monotonic()
        self.repeats += 1
        self._encode_image(image, at, started, started, cpu0)
        c.last_encode = at

    def _grab(self, c: _Capture, interval: float) -> None:
        """Grab the screen as it is now, convert it once and encode it for every active rung."""
        if c.watch is not None:
            c.watch.subtract()  # paints from now on are reported again
            c.dirty_since = None
        started = time.perf_counter()
        cpu0 = time.thread_time()
        grabbed_at = time.monotonic()
        c.last_grab = grabbed_at
        self.grabs += 1
        self.boosted_frames += interval < c.normal
        packet = next(c.packets, None)
        if packet is None:
            raise RuntimeError("x11grab stopped delivering frames")
        for frame in packet.decode():
            # bgr0 -> yuv420p once, in C (swscale); no per-pixel work in Python
            c.last_image = frame.reformat(format="yuv420p")
            converted = time.perf_counter()
            self._encode_image(c.last_image, grabbed_at, started, converted, cpu0)
            c.last_encode = grabbed_at

    def _wait(self, fds: list[int], timeout: float | None) -> None:
        """Sleep until a wake-up (viewer, keyframe request, boost, stop), X damage or timeout."""
        ready, _, _ = select.select(fds, [], [], timeout)
        if self._wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wake_r, 4096)

    def wake(self) -> None:
        """Make the capture thread look again (thread-safe; a byte on a non-blocking pipe)."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"w")

    def _nobody_watching(self) -> bool:
        # Read from the capture thread: len() of a set and a future's state are atomic reads.
        return self.frames is None and not self.broadcaster.tracks and self.first_packet.done()

    def _active(self) -> list[RungEncoder]:
        """The rungs to encode now: those some viewer is on or moving to (the top one before
        the first packet, which tells the agent the room is ready). Capture thread only."""
        wanted = self.broadcaster.active  # one read of the loop's frozenset
        active = [r for r in self.rungs if r.index in wanted] or self.rungs[:1]
        for r in self.rungs:
            on = r in active
            if on and not r.active:
                r.force = True  # unused until now: its viewers start from a keyframe
            r.active = on
        return active

    def _encode_image(
        self,
        image: av.VideoFrame,
        grabbed_at: float,
        started: float,
        converted: float,
        cpu0: float,
    ) -> None:
        """Encode one converted grab (stamped with its capture time) for every rung in use."""
        # The capture time on the agent's clock (t0): what the RTCP sender reports map to wall
        # time (media/clock.py), so the viewer lines picture and sound up by when each was made.
        image.pts = int((grabbed_at - self.t0) * 90000)
        image.time_base = VIDEO_TIME_BASE
        # x11grab's raw frames come marked as I pictures: clear that, or every frame is an IDR
        image.pict_type = PictureType.NONE
        if self.frames is not None:
            self.frames_encoded += 1
            self.capture_seconds += converted - started
            self.cpu_seconds += time.thread_time() - cpu0
            self._loop.call_soon_threadsafe(self._publish_frame, image)
            return
        s = self.settings
        refresh = s.keyframe_interval_s
        for r in self._active():
            if r.rung.fps < s.fps and not r.force:
                # a rung at a lower frame rate takes every n-th capture (half a room frame early
                # is on time)
                if grabbed_at - r.last_encode < 1 / r.rung.fps - 0.5 / s.fps:
                    continue
            if grabbed_at - r.last_keyframe >= refresh:
                r.force = True
            t = time.thread_time()
            w = time.perf_counter()
            if r.encoder is None:
                r.encoder = make_encoder(s, r.rung)
            scaled = r.image(image)
            scaled.pts = image.pts
            scaled.time_base = VIDEO_TIME_BASE
            scaled.pict_type = PictureType.NONE
            if r.force:
                r.force = False
                scaled.pict_type = PictureType.I
            packets = r.encoder.encode(scaled)
            r.frames += 1
            r.last_encode = grabbed_at
            for p in packets:
                p.time_base = VIDEO_TIME_BASE
                if p.is_keyframe:
                    r.keyframes += 1
                    r.last_keyframe = grabbed_at
                self._loop.call_soon_threadsafe(self._publish, r.index, p)
            r.cpu_seconds += time.thread_time() - t
            r.busy_seconds += time.perf_counter() - w
        done = time.perf_counter()
        self.frames_encoded += 1
        self.capture_seconds += converted - started
        self.encode_seconds += done - converted
        self.cpu_seconds += time.thread_time() - cpu0
