"""Lip sync at real browser viewers of a real room (figures: docs/performance.md).

A real control plane (`watchparty serve`, embedded storage, local rooms: Xvfb + Chromium +
PulseAudio + agent; `--warm`: ROOM_WARM_POOL=1, so the room gets a browser started in advance)
serves the built web app. A host made through the REST API creates a room whose browser plays a
clip (made here with PyAV: VP8 + Opus, a white flash and a 1 kHz beep at the same media time once
a second, full screen). N viewers, one headless Chromium each (Playwright, `/usr/bin/chromium`),
sign up and open the room's page as a person would (`/room/<code>`: the app's own signalling,
stream peer and `<video aria-label="Shared browser">` playing sound).

Each viewer times:
- each flash's display: `requestVideoFrameCallback` `expectedDisplayTime` on the room page's video;
- each beep at the **speaker**: the viewer's Chromium plays into a PulseAudio null sink of its
  own (5 ms blocks) whose monitor this process records with `parec`; an onset's time is the read
  time of its samples, anchored on the earliest read (reads are only ever late). This is the
  sound a person hears, through the same path (the media element's WebRTC audio renderer) that
  Chromium's A/V sync accounts for;
- each beep at a **WebAudio tap** (the method first specified: an AudioWorklet on the remote
  track, mapped through `AudioContext.getOutputTimestamp`). It is a second consumer of the track
  with its own FIFO that A/V sync knows nothing about; printed for comparison, with the tap -
  speaker difference per beep.

`--stamps` adds an aiortc viewer (REST join + the room socket's `rtc.offer`) that maps each flash
frame and beep onset to the sender's clock through each stream's RTCP sender reports: what the
agent's timestamps claim (capture times), and with them each stream's capture → display / speaker
delay at the Chromium viewers.

    .venv/bin/python -m bench.avsync [--seconds 60] [--viewers 1] [--warm] [--stamps] [--settle 10]

The target is held against the steady state, from `--settle` seconds after a viewer's stream
started; the first seconds (joining) are printed on their own.

Positive = sound late. Target (EBU R37): p05 >= -40 ms and p95 <= +60 ms at the speaker.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtcpSrPacket
from playwright.async_api import Browser, Page, async_playwright

from bench.webapp import DIST, admin_token, deployment, pool_ready
from tests.support.browser import register, stream_playing
from tests.support.rooms import create_room, room_socket
from tests.support.servers import Server, static_files
from tests.support.users import signed_in
from tests.support.web import CHROMIUM_ARGS

CLIP_SECONDS = 20
FPS = 30
RATE = 48000
FLASH_AT = 0.5  # seconds into every second: a white frame pair and a beep start together
FLASH_FRAMES = 2
BEEP_S = 0.060
PAIR_WINDOW_S = 0.4  # a flash and an onset further apart than this are not the same event
NTP_EPOCH = 2208988800  # seconds from 1900 (NTP) to 1970 (Unix)
TARGET = (-40.0, 60.0)  # p05 >= -40 ms, p95 <= +60 ms (EBU R37)

ROOM_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
html,body{margin:0;background:#000;overflow:hidden}
video{position:fixed;inset:0;width:100vw;height:100vh;object-fit:fill}
</style></head><body><video src="clip.webm" autoplay loop playsinline></video></body></html>
"""

# Installed before the app's scripts: keeps the app's peer connections for getStats().
INIT_JS = """(() => {
  const PC = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends PC {
    constructor(...a) { super(...a); window.__pcs.push(this); }
  };
})()"""

# The WebAudio tap's worklet, served by the control plane next to a copy of the app (the app's
# CSP allows scripts from 'self' only, and worklet fetches are not seen by Playwright's routes).
ONSET_WORKLET = """class Onset extends AudioWorkletProcessor {
  constructor() { super(); this.quiet = 0; }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      if (Math.abs(ch[i]) > 0.1) {
        if (this.quiet > sampleRate * 0.3) this.port.postMessage(currentFrame + i);
        this.quiet = 0;
      } else this.quiet++;
    }
    return true;
  }
}
registerProcessor('onset', Onset);
"""

# Started once the room page shows the stream. Times are epoch ms (timeOrigin + performance
# time), so they compare with this process's clock (checked by clock_offset).
MEASURE_JS = """async () => {
  const v = document.querySelector('video[aria-label="Shared browser"]');
  const M = (window.__av = { flashes: [], tap: [], err: null });
  const c = document.createElement('canvas'); c.width = 1; c.height = 1;
  const g = c.getContext('2d', { willReadFrequently: true });
  let dark = true;
  const onFrame = (now, meta) => {
    g.drawImage(v, v.videoWidth / 2, v.videoHeight / 2, 1, 1, 0, 0, 1, 1);
    const [r, gr, b] = g.getImageData(0, 0, 1, 1).data;
    const white = r > 180 && gr > 180 && b > 180;
    if (white && dark) M.flashes.push(performance.timeOrigin + meta.expectedDisplayTime);
    if (white) dark = false; else if (r < 80 && gr < 80 && b < 80) dark = true;
    v.requestVideoFrameCallback(onFrame);
  };
  v.requestVideoFrameCallback(onFrame);
  try {
    const ac = new AudioContext({ latencyHint: 'interactive' });
    await ac.audioWorklet.addModule('/bench-onset.js');
    const src = ac.createMediaStreamSource(new MediaStream(v.srcObject.getAudioTracks()));
    const node = new AudioWorkletNode(ac, 'onset');
    const mute = ac.createGain(); mute.gain.value = 0;
    src.connect(node); node.connect(mute); mute.connect(ac.destination);
    await ac.resume();
    node.port.onmessage = (e) => {
      const ts = ac.getOutputTimestamp();
      const at = ts.performanceTime + (e.data / ac.sampleRate - ts.contextTime) * 1000;
      M.tap.push(performance.timeOrigin + at);
    };
  } catch (e) { M.err = String(e); }
  return { muted: v.muted, volume: v.volume, audioTracks: v.srcObject.getAudioTracks().length };
}"""

# The viewer's own stages, and Chromium's own view of sync: the sender time (NTP) of what each
# stream plays now (`estimatedPlayoutTimestamp`, audio including the output delay the audio device
# reports); video - audio > 0 means Chromium believes the picture is ahead of the sound.
STATS_JS = """async () => {
  const out = {};
  for (const pc of window.__pcs) {
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'media-playout' && r.totalSamplesCount) {
        out.outputDelayMs = 1000 * r.totalPlayoutDelay / r.totalSamplesCount;
      }
      if (r.type !== 'inbound-rtp' || !r.jitterBufferEmittedCount) return;
      out[r.kind] = {
        jitterBufferMs: 1000 * r.jitterBufferDelay / r.jitterBufferEmittedCount,
        targetMs: 1000 * r.jitterBufferTargetDelay / r.jitterBufferEmittedCount,
        playout: r.estimatedPlayoutTimestamp,
        arrivalJitterMs: 1000 * r.jitter,
        // what Chromium believes: capture (sender NTP, ms) to output now
        believedMs: r.estimatedPlayoutTimestamp
          ? r.timestamp - (r.estimatedPlayoutTimestamp - 2208988800000) : null,
      };
    });
  }
  return out;
}"""


def _picture(i: int, flash: bool) -> av.VideoFrame:
    """Frame `i` of the clip, 640x360 yuv420p: the middle black (white during a flash), and a
    grey bar moving along the top and bottom edges every frame, as a film always moves (the
    room grabs the screen when it changes, so a still picture would not be a film's stream)."""
    width, height, bar = 640, 360, 40
    frame = av.VideoFrame(width, height, "yuv420p")
    y = frame.planes[0]
    row = bytearray(y.line_size)
    x = (i * 16) % (width - 64)
    row[x : x + 64] = b"\x60" * 64
    middle = (b"\xff" if flash else b"\x00") * y.line_size
    rows = [bytes(row) if r < bar or r >= height - bar else middle for r in range(height)]
    y.update(b"".join(rows))
    for plane in frame.planes[1:]:
        plane.update(b"\x80" * plane.buffer_size)
    return frame


def make_clip(path: Path) -> None:
    """VP8 + Opus WebM: white frames and a 1 kHz beep at FLASH_AT of every second (`_picture`)."""
    out = av.open(str(path), "w", format="webm")
    vs = out.add_stream("libvpx", rate=FPS)
    vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
    vs.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    vs.bit_rate = 500_000
    as_ = out.add_stream("libopus", rate=RATE)
    as_.layout = "stereo"
    as_.format = "s16"
    for i in range(CLIP_SECONDS * FPS):
        flash = FLASH_AT * FPS <= i % FPS < FLASH_AT * FPS + FLASH_FRAMES
        frame = _picture(i, flash)
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        for p in vs.encode(frame):
            out.mux(p)
    for p in vs.encode():
        out.mux(p)
    chunk = 960
    for start in range(0, CLIP_SECONDS * RATE, chunk):
        samples = array.array("h")
        for n in range(start, start + chunk):
            t = n / RATE
            on = FLASH_AT <= t % 1.0 < FLASH_AT + BEEP_S
            v = round(16000 * math.sin(2 * math.pi * 1000 * t)) if on else 0
            samples.extend((v, v))
        sound = av.AudioFrame(format="s16", layout="stereo", samples=chunk)
        sound.planes[0].update(samples.tobytes())
        sound.sample_rate, sound.pts, sound.time_base = RATE, start, Fraction(1, RATE)
        for p in as_.encode(sound):
            out.mux(p)
    for p in as_.encode():
        out.mux(p)
    out.close()


class Onsets:
    """Beep onsets in a stream of mono s16 samples: the first loud sample after 0.3 s of quiet."""

    def __init__(self) -> None:
        self.quiet = 0
        self.at: list[int] = []  # sample indices

    def feed(self, first: int, pcm: array.array[int], step: int = 1) -> None:
        for i in range(0, len(pcm), step):
            if abs(pcm[i]) > 3000:
                if self.quiet > 0.3 * RATE:
                    self.at.append(first + i // step)
                self.quiet = 0
            else:
                self.quiet += 1


class Speaker:
    """A PulseAudio daemon with one null sink for one viewer's Chromium, and a recorder of the
    sink's monitor that stamps each beep onset with the wall time it was played."""

    def __init__(self, root: Path) -> None:
        self.dir = root
        self.socket = root / "native"
        (root / "default.pa").write_text(
            f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}\n"
            "load-module module-null-sink sink_name=speaker rate=48000 channels=2\n"
            "set-default-sink speaker\n"
        )
        env = {**os.environ, "XDG_RUNTIME_DIR": str(root), "HOME": str(root)}
        self.daemon = subprocess.Popen(
            [
                *("pulseaudio", "-n", "-F", str(root / "default.pa"), "--daemonize=no"),
                *("--exit-idle-time=-1", "--use-pid-file=no", "--system=no", "--log-level=error"),
            ],
            env=env,
        )
        for _ in range(200):
            if self.socket.exists():
                break
            time.sleep(0.025)
        else:
            raise SystemExit("PulseAudio did not start for a viewer")
        self.env = {"PULSE_SERVER": f"unix:{self.socket}"}
        self.onsets = Onsets()
        self.samples = 0
        self.anchor: float | None = None  # wall time of sample 0
        self.recorder = subprocess.Popen(
            [
                *("parec", "--raw", "--format=s16le", "--rate=48000", "--channels=1"),
                *("--latency-msec=5", "-d", "speaker.monitor"),
            ],
            stdout=subprocess.PIPE,
            env={**os.environ, **self.env},
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.recorder.stdout is not None
        fd = self.recorder.stdout.fileno()
        while chunk := os.read(fd, 960):
            now = time.time()
            pcm = array.array("h", chunk[: len(chunk) // 2 * 2])
            self.onsets.feed(self.samples, pcm)
            self.samples += len(pcm)
            # the last sample of this read was played at `now` at the latest
            start = now - self.samples / RATE
            if self.anchor is None or start < self.anchor:
                self.anchor = start

    def times(self) -> list[float]:
        """Wall times (s) of the beeps heard so far."""
        anchor = self.anchor or 0.0
        return [anchor + k / RATE for k in self.onsets.at]

    def close(self) -> None:
        for proc in (self.recorder, self.daemon):
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class ViewerResult:
    flashes: list[float]  # wall times (s) of displayed flashes
    speaker: list[float]  # wall times (s) of beeps heard
    tap: list[float]  # wall times (s) of beeps at the WebAudio tap
    stats: dict[str, Any]
    sound: dict[str, Any]
    clock_ms: float  # page clock minus this process's clock
    started: float  # wall time (s) the viewer's page started timing (its stream playing)


@dataclass
class Stamps:
    """Capture times (wall, s) of flashes and beeps, as the agent's RTCP sender reports say."""

    flashes: list[float] = field(default_factory=list)
    beeps: list[float] = field(default_factory=list)


def pair(flashes: list[float], onsets: list[float]) -> list[float]:
    """audio - video (ms) for every flash with an onset within PAIR_WINDOW_S."""
    out = []
    for f in flashes:
        best = min(onsets, key=lambda a: abs(a - f), default=None)
        if best is not None and abs(best - f) < PAIR_WINDOW_S:
            out.append(1000 * (best - f))
    return out


def delays(captured: list[float], seen: list[float]) -> list[float]:
    """ms from each capture to the first time seen after it (within PAIR_WINDOW_S)."""
    out = []
    for c in captured:
        later = [s for s in seen if 0 <= s - c < PAIR_WINDOW_S]
        if later:
            out.append(1000 * (min(later) - c))
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


async def clock_offset(page: Page) -> float:
    """Page clock (timeOrigin + now) minus this process's clock, ms (best of 5 round trips)."""
    best: tuple[float, float] | None = None
    for _ in range(5):
        t0 = time.time()
        page_ms = float(await page.evaluate("() => performance.timeOrigin + performance.now()"))
        t1 = time.time()
        if best is None or t1 - t0 < best[0]:
            best = (t1 - t0, page_ms - 500 * (t0 + t1))
    assert best is not None
    return best[1]


async def viewer(
    browser: Browser, server: Server, code: str, speaker: Speaker, seconds: int
) -> ViewerResult:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 800})
    await ctx.add_init_script(script=INIT_JS)
    page = await ctx.new_page()
    try:
        await register(page, server.url, f"viewer{uuid.uuid4().hex[:8]}")
        await page.goto(f"{server.url}/room/{code}")
        await stream_playing(page, within=60)
        sound_on = page.get_by_role("button", name="Sound on")
        if await sound_on.count():
            await sound_on.click()  # the page started muted: turn sound on as a person would
        started = time.time()
        sound: dict[str, Any] = await page.evaluate(MEASURE_JS)
        gaps: list[float] = []  # Chromium's own video - audio playout gap, second half
        believed: dict[str, list[float]] = {"audio": [], "video": []}
        for second in range(seconds):
            await asyncio.sleep(1)
            if second >= seconds // 2:
                now: dict[str, Any] = await page.evaluate(STATS_JS)
                with contextlib.suppress(KeyError, TypeError):
                    gaps.append(now["video"]["playout"] - now["audio"]["playout"])
                for kind in believed:
                    with contextlib.suppress(KeyError, TypeError):
                        believed[kind].append(float(now[kind]["believedMs"]))
        got: dict[str, Any] = await page.evaluate("() => window.__av")
        stats: dict[str, Any] = await page.evaluate(STATS_JS)
        stats["chromiumGapMs"] = statistics.median(gaps) if gaps else None
        stats["believedMs"] = {k: statistics.median(v) for k, v in believed.items() if v}
        offset = await clock_offset(page)
    finally:
        await ctx.close()
    if got.get("err"):
        print(f"viewer: WebAudio tap failed: {got['err']}", file=sys.stderr)
    return ViewerResult(
        flashes=[(f - offset) / 1000 for f in got["flashes"]],
        speaker=speaker.times(),
        tap=[(t - offset) / 1000 for t in got["tap"]],
        stats=stats,
        sound=sound,
        clock_ms=offset,
        started=started,
    )


async def stamps_viewer(server: Server, code: str, seconds: int) -> Stamps:
    """An aiortc viewer signalled through the room socket, reading the agent's capture times."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        user = await signed_in(http)
        (await http.post(f"/api/rooms/{code}/join", headers=user.headers)).raise_for_status()
    sock = await room_socket(server.url.replace("http", "ws", 1), code, user.access_token)
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    srs: dict[str, tuple[float, int]] = {}  # kind → (NTP seconds, RTP time) of the last SR
    flashes: list[tuple[int, dict[str, tuple[float, int]]]] = []
    beeps: list[tuple[int, dict[str, tuple[float, int]]]] = []
    tasks: list[asyncio.Task[None]] = []

    def record_sr(kind: str, receiver: Any) -> None:
        original = receiver._handle_rtcp_packet  # aiortc internals: no public SR hook

        async def handle(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                info = packet.sender_info
                srs[kind] = (info.ntp_timestamp / (1 << 32), info.rtp_timestamp)
            await original(packet)

        receiver._handle_rtcp_packet = handle

    async def consume(track: Any, receiver: Any) -> None:
        mapper = receiver._RTCRtpReceiver__timestamp_mapper  # pts = RTP time - first RTP time
        dark = True
        onsets = Onsets()
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                rtp = int(frame.pts + mapper._origin) % (1 << 32)
                if track.kind == "video":
                    y = frame.planes[0]
                    luma = bytes(y)[(frame.height // 2) * y.line_size + frame.width // 2]
                    if luma > 180 and dark:
                        flashes.append((rtp, dict(srs)))
                    dark = luma < 80 if luma < 80 or luma > 180 else dark
                else:
                    pcm = array.array("h", bytes(frame.planes[0]))
                    before = len(onsets.at)
                    onsets.feed(0, pcm, step=len(frame.layout.channels))
                    for k in onsets.at[before:]:
                        beeps.append(((rtp + k) % (1 << 32), dict(srs)))

    @pc.on("track")
    def on_track(track: Any) -> None:
        receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        record_sr(track.kind, receiver)
        tasks.append(asyncio.create_task(consume(track, receiver)))

    try:
        await pc.setLocalDescription(await pc.createOffer())
        await sock.send("rtc.offer", {"to": "agent", "sdp": pc.localDescription.sdp})
        answer = await sock.expect("rtc.answer", within=30)
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["data"]["sdp"], type="answer")
        )
        await asyncio.sleep(seconds)
    finally:
        await pc.close()
        for t in tasks:
            t.cancel()
        await sock.close()

    def wall(kind: str, rtp: int, rate: int, at: dict[str, tuple[float, int]]) -> float | None:
        sr = at.get(kind) or srs.get(kind)
        if sr is None:
            return None
        d = (rtp - sr[1]) % (1 << 32)
        d = d - (1 << 32) if d >= 1 << 31 else d
        return sr[0] - NTP_EPOCH + d / rate

    out = Stamps()
    out.flashes = [w for r, at in flashes if (w := wall("video", r, 90000, at)) is not None]
    out.beeps = [w for r, at in beeps if (w := wall("audio", r, RATE, at)) is not None]
    return out


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):+.0f} / {pct(values, 0.05):+.0f} / {pct(values, 0.95):+.0f}"


async def ready_room(server: Server, start_url: str) -> str:
    """A room made through the REST API, once its status says `ready`: its code."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        headers = (await signed_in(http)).headers
        made = await create_room(http, headers, title="Lip sync", start_url=start_url)
        code = str(made["code"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            room = (await http.get(f"/api/rooms/{code}", headers=headers)).json()
            if room.get("status") == "ready":
                return code
            if room.get("status") in {"failed", "ended"}:
                raise SystemExit(f"the room did not start: {room}")
            await asyncio.sleep(0.2)
    raise SystemExit("the room was not ready within 60 s")


async def run(seconds: int, viewers: int, warm: bool, with_stamps: bool, settle: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="wp-bench-avsync-"))
    clip_dir = tmp / "clip"
    clip_dir.mkdir()
    make_clip(clip_dir / "clip.webm")
    (clip_dir / "room.html").write_text(ROOM_PAGE)
    web_dir = tmp / "web"
    shutil.copytree(DIST, web_dir)
    (web_dir / "bench-onset.js").write_text(ONSET_WORKLET)
    speakers = [Speaker(Path(tempfile.mkdtemp(prefix="wp-speaker-"))) for _ in range(viewers)]
    load0 = os.getloadavg()[0]
    try:
        with (
            static_files(clip_dir) as clip_url,
            deployment(1 if warm else 0, tmp, web_dir) as (server, env),
        ):
            if warm:
                await pool_ready(server, admin_token(server, env))
            code = await ready_room(server, f"{clip_url}/room.html")
            async with async_playwright() as p:
                browsers = [
                    await p.chromium.launch(
                        executable_path="/usr/bin/chromium",
                        args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"],
                        ignore_default_args=["--mute-audio"],  # Playwright mutes by default
                        env={**os.environ, **s.env},
                    )
                    for s in speakers
                ]
                try:
                    stamps_task = asyncio.ensure_future(
                        stamps_viewer(server, code, seconds + 20) if with_stamps else _no_stamps()
                    )
                    results = await asyncio.gather(
                        *(
                            viewer(b, server, code, s, seconds)
                            for b, s in zip(browsers, speakers, strict=True)
                        )
                    )
                    stamps = await stamps_task
                finally:
                    for b in browsers:
                        await b.close()
    finally:
        for s in speakers:
            s.close()
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()[0]
    report(results, stamps, seconds, warm, (load0, load1), settle)


async def _no_stamps() -> Stamps:
    return Stamps()


def report(
    results: list[ViewerResult],
    stamps: Stamps,
    seconds: int,
    warm: bool,
    load: tuple[float, float],
    settle: float,
) -> None:
    # Steady state: flashes from `settle` s after each viewer's stream started (Chromium's A/V
    # sync moves the picture by at most ~80 ms a second, and its jitter buffers start large).
    # The first seconds, what a viewer sees as they join, are printed on their own.
    steady = [[f for f in r.flashes if f >= r.started + settle] for r in results]
    joining = [[f for f in r.flashes if f < r.started + settle] for r in results]
    speaker = [d for r, fs in zip(results, steady, strict=True) for d in pair(fs, r.speaker)]
    tap = [d for r, fs in zip(results, steady, strict=True) for d in pair(fs, r.tap)]
    first = [d for r, fs in zip(results, joining, strict=True) for d in pair(fs, r.speaker)]
    tap_minus_speaker = [d for r in results for d in pair(r.speaker, r.tap)]
    if not speaker:
        raise SystemExit(f"no flash/beep pair heard at any viewer: {results}")
    kind = "warm-pool" if warm else "cold"
    p05, p95 = pct(speaker, 0.05), pct(speaker, 0.95)
    met = "met" if p05 >= TARGET[0] and p95 <= TARGET[1] else "**not met**"
    print(
        f"\nlip sync, {len(results)} Chromium viewer(s), {kind} room, {seconds} s, "
        f"steady state (from {settle:.0f} s after the stream started)"
    )
    print(
        "| viewers | room | pairs | speaker median / p05 / p95 ms | target | "
        "WebAudio tap median / p05 / p95 ms | tap - speaker median / p05 / p95 ms | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {len(results)} | {kind} | {len(speaker)} | {summary(speaker)} | {met} "
        f"| {summary(tap)} | {summary(tap_minus_speaker)} | {load[0]:.1f} → {load[1]:.1f} |"
    )
    print(
        f"the first {settle:.0f} s (joining): {len(first)} pairs, "
        f"{summary(first)} ms at the speaker"
    )
    if stamps.flashes and stamps.beeps:
        own = pair(stamps.flashes, stamps.beeps)
        print(f"agent's own stamps (RTP via SR, aiortc viewer): {summary(own)} ms")
        for i, r in enumerate(results):
            video = delays(stamps.flashes, r.flashes)
            audio = delays(stamps.beeps, r.speaker)
            print(
                f"viewer {i}: capture → display {summary(video)} ms,"
                f" capture → speaker {summary(audio)} ms (median / p05 / p95)"
            )
    for i, r in enumerate(results):
        a, v = r.stats.get("audio", {}), r.stats.get("video", {})
        gap = r.stats.get("chromiumGapMs")
        print(
            f"viewer {i}: {len(r.flashes)} flashes, {len(r.speaker)} beeps heard, "
            f"{len(r.tap)} at the tap; arrival jitter audio {a.get('arrivalJitterMs', 0):.1f} ms, "
            f"video {v.get('arrivalJitterMs', 0):.1f} ms; "
            f"jitter buffer audio {a.get('jitterBufferMs', 0):.0f} ms "
            f"(target {a.get('targetMs', 0):.0f}), video {v.get('jitterBufferMs', 0):.0f} ms "
            f"(target {v.get('targetMs', 0):.0f}); audio output delay reported "
            f"{r.stats.get('outputDelayMs') or 0:.0f} ms; Chromium's own video - audio playout "
            f"{'-' if gap is None else f'{gap:+.0f}'} ms, capture to output believed "
            f"{r.stats.get('believedMs')}; sound {r.sound}; "
            f"page clock {r.clock_ms:+.1f} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--viewers", type=int, default=1)
    ap.add_argument(
        "--settle",
        type=float,
        default=10,
        help="seconds after the stream starts left out of the steady figure",
    )
    ap.add_argument("--warm", action="store_true", help="the room gets a warm-pool browser")
    ap.add_argument(
        "--stamps",
        action="store_true",
        help="also an aiortc viewer reading the agent's capture times (RTP via SRs)",
    )
    args = ap.parse_args()
    if not (DIST / "index.html").is_file():
        raise SystemExit("frontend/dist is not built: run `make web`")
    asyncio.run(run(args.seconds, args.viewers, args.warm, args.stamps, args.settle))


if __name__ == "__main__":
    main()
