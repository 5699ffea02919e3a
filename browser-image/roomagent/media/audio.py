"""Capture the PulseAudio null sink's monitor with parec, encode once to Opus, publish.

Runs only while a viewer listens; timestamps come from when the samples were captured."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from fractions import Fraction

import av

from ..config import AgentSettings
from ..launcher import child_setup
from .fanout import Broadcaster
from .playout import has_sound

log = logging.getLogger("roomagent.audio")

RATE = 48000
CHANNELS = 2
FRAME_SAMPLES = 960  # 20 ms
CHUNK = FRAME_SAMPLES * CHANNELS * 2
AUDIO_TIME_BASE = Fraction(1, RATE)


async def sink_latency(sink: str, env: dict[str, str]) -> float | None:
    """The null sink's configured latency (seconds): it renders (and feeds its monitor) up to
    this far ahead of real time, so the last sample of a chunk parec gets is played that much
    later."""
    proc = await asyncio.create_subprocess_exec(
        "pactl",
        "-f",
        "json",
        "list",
        "sinks",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 5)
    for entry in json.loads(out or b"[]"):
        if entry.get("name") == sink:
            return float(entry["latency"]["configured"]) / 1e6
    return None


class CaptureStamper:
    """Presentation timestamps (samples since ``t0``) from the times capture chunks arrive.

    A chunk of ``n`` samples read at ``r`` ended at about ``r`` (parec is asked for 20 ms
    fragments, so the server sends each as soon as it is full), so its first sample was captured
    at ``r - n / RATE``. A read can come late (the loop was busy, the pipe held a backlog), never
    early: the earliest ``read time - samples counted`` over the last ``window`` chunks is the
    capture clock, and sample counting carries it between chunks (a steady 48 kHz, no jitter).
    When the estimate moves by more than ``tolerance`` (samples lost on overrun, a late start),
    the count is re-anchored on it.
    """

    def __init__(self, t0: float, window: int = 100, tolerance: float = 0.010) -> None:
        self.t0 = t0
        self.window = window
        self.tolerance = tolerance
        self.anchor: float | None = None  # capture time of sample 0 of the count
        self.counted = 0
        self.reanchors = 0
        self._candidates: collections.deque[float] = collections.deque(maxlen=window)

    def stamp(self, read_at: float, samples: int) -> int:
        """The pts (in 1/RATE) of the first sample of a chunk of `samples` read at `read_at`."""
        first = read_at - samples / RATE - self.counted / RATE
        self._candidates.append(first)
        estimate = min(self._candidates)
        if self.anchor is None or abs(estimate - self.anchor) > self.tolerance:
            if self.anchor is not None:
                self.reanchors += 1
            self.anchor = estimate
        pts = round((self.anchor - self.t0) * RATE) + self.counted
        self.counted += samples
        return pts

    def capture_lag(self, read_at: float) -> float:
        """How long after its capture the last chunk was read (seconds; the read's lateness)."""
        assert self.anchor is not None
        return read_at - (self.anchor + self.counted / RATE)


class AudioPipeline:
    """parec → Opus → broadcaster, run only while someone listens (``resume``/``pause``)."""

    def __init__(
        self,
        settings: AgentSettings,
        pulse_server: str | None,
        broadcaster: Broadcaster,
        t0: float,
        on_sound: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.pulse_server = pulse_server
        # Told the monotonic time of every chunk that holds sound (media/playout.py).
        self.on_sound = on_sound
        self.broadcaster = broadcaster
        self.t0 = t0
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self.frames_encoded = 0
        self.starts = 0
        self.stamper: CaptureStamper | None = None
        self.max_read_lag = 0.0  # the latest a chunk was read after it was captured (seconds)
        # How far ahead of real time the null sink renders (and so feeds its monitor): samples
        # reach parec this much before they are "played", i.e. before the time the room's
        # Chromium schedules the matching picture for. Read from PulseAudio (`sink_latency`).
        self.sink_ahead = 0.0
        self._latency_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        await self.resume()

    async def resume(self) -> None:
        """Start capturing (no-op while running). Timestamps restart from the capture clock."""
        async with self._lock:
            if not self.running and not self.done.done():
                await self._spawn()

    async def _spawn(self) -> None:
        env = dict(os.environ)
        if self.pulse_server:
            env["PULSE_SERVER"] = self.pulse_server
        self._proc = await asyncio.create_subprocess_exec(
            "parec",
            f"--device={self.settings.pulse_sink}.monitor",
            "--format=s16le",
            f"--rate={RATE}",
            f"--channels={CHANNELS}",
            "--latency-msec=20",
            "--raw",
            "--client-name=roomagent",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=child_setup(),
        )
        self.starts += 1
        self._task = asyncio.create_task(self._run(self._proc), name="audio-capture")
        self._latency_task = asyncio.create_task(self._watch_latency(env), name="sink-latency")

    async def _watch_latency(self, env: dict[str, str]) -> None:
        """Keep `sink_ahead` current (it follows the latencies the sink's clients ask for)."""
        while True:
            with contextlib.suppress(Exception):
                ahead = await sink_latency(self.settings.pulse_sink, env)
                if ahead is not None:
                    self.sink_ahead = ahead
            await asyncio.sleep(10)

    async def pause(self) -> None:
        """Stop capturing and encoding: nobody listens (parec ends, Opus is released)."""
        async with self._lock:
            await self._end()

    async def _end(self) -> None:
        if self._latency_task is not None:
            self._latency_task.cancel()
            self._latency_task = None
        task, proc = self._task, self._proc
        self._task = self._proc = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def _run(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        encoder = av.CodecContext.create("libopus", "w")
        assert isinstance(encoder, av.AudioCodecContext)
        encoder.sample_rate = RATE
        encoder.layout = "stereo"
        encoder.format = "s16"
        encoder.bit_rate = self.settings.audio_bitrate_kbps * 1000
        encoder.time_base = AUDIO_TIME_BASE
        encoder.options = {"application": "audio", "frame_duration": "20"}
        stamper = self.stamper = CaptureStamper(self.t0)
        exc: BaseException | None = None
        try:
            while True:
                data = await proc.stdout.readexactly(CHUNK)
                read_at = time.monotonic()
                if self.on_sound is not None and has_sound(data):
                    self.on_sound(read_at)
                frame = av.AudioFrame(format="s16", layout="stereo", samples=FRAME_SAMPLES)
                frame.planes[0].update(data)
                frame.sample_rate = RATE
                # When these samples were captured, not when we got round to reading them. The
                # packets' pts are libopus's (frame pts minus its lookahead, the delay a decoder
                # that keeps the pre-skip adds, as WebRTC receivers do): the stamp stays true at
                # the viewer's speaker.
                frame.pts = stamper.stamp(read_at + self.sink_ahead, FRAME_SAMPLES)
                frame.time_base = AUDIO_TIME_BASE
                self.max_read_lag = max(self.max_read_lag, stamper.capture_lag(read_at))
                for packet in encoder.encode(frame):
                    packet.time_base = AUDIO_TIME_BASE
                    self.broadcaster.publish(packet)
                self.frames_encoded += 1
        except asyncio.CancelledError:
            raise
        except asyncio.IncompleteReadError as e:
            exc = RuntimeError("parec exited")
            log.error("audio capture ended: parec exited", extra={"error": str(e)})
        except Exception as e:
            log.exception("audio capture failed")
            exc = e
        if not self.done.done():
            if exc is None:
                self.done.set_result(None)
            else:
                self.done.set_exception(exc)

    async def stop(self) -> None:
        await self.pause()
        if not self.done.done():
            self.done.set_result(None)
