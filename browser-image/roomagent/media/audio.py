"""Capture the PulseAudio null sink's monitor with parec, encode once to Opus, publish."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from fractions import Fraction

import av

from ..config import AgentSettings
from ..launcher import child_setup
from .fanout import Broadcaster

log = logging.getLogger("roomagent.audio")

RATE = 48000
CHANNELS = 2
FRAME_SAMPLES = 960  # 20 ms
CHUNK = FRAME_SAMPLES * CHANNELS * 2
AUDIO_TIME_BASE = Fraction(1, RATE)


class AudioPipeline:
    def __init__(
        self,
        settings: AgentSettings,
        pulse_server: str | None,
        broadcaster: Broadcaster,
        t0: float,
    ) -> None:
        self.settings = settings
        self.pulse_server = pulse_server
        self.broadcaster = broadcaster
        self.t0 = t0
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self.frames_encoded = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
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
        self._task = asyncio.create_task(self._run(), name="audio-capture")

    async def _run(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        encoder = av.CodecContext.create("libopus", "w")
        assert isinstance(encoder, av.AudioCodecContext)
        encoder.sample_rate = RATE
        encoder.layout = "stereo"
        encoder.format = "s16"
        encoder.bit_rate = self.settings.audio_bitrate_kbps * 1000
        encoder.time_base = AUDIO_TIME_BASE
        encoder.options = {"application": "audio", "frame_duration": "20"}
        samples: int | None = None
        exc: BaseException | None = None
        try:
            while True:
                data = await self._proc.stdout.readexactly(CHUNK)
                if samples is None:
                    # Anchor on the shared clock so audio and video timestamps line up.
                    samples = int((time.monotonic() - self.t0 - 0.02) * RATE)
                frame = av.AudioFrame(format="s16", layout="stereo", samples=FRAME_SAMPLES)
                frame.planes[0].update(data)
                frame.sample_rate = RATE
                frame.pts = samples
                frame.time_base = AUDIO_TIME_BASE
                samples += FRAME_SAMPLES
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
        finally:
            if not self.done.done():
                if exc is None:
                    self.done.set_result(None)
                else:
                    self.done.set_exception(exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()
        if not self.done.done():
            self.done.set_result(None)
