"""Lip sync at real browser viewers (figures: docs/performance.md): the room's browser plays a
clip with a white flash and a 1 kHz beep at the same media time once a second; headless Chromium
viewers time each flash's display (`requestVideoFrameCallback` `expectedDisplayTime`) and each
beep's output (an AudioWorklet onset mapped with `AudioContext.getOutputTimestamp`), and the bench
prints median, p05 and p95 of audio - video (positive: sound late).

Makes the clip itself (PyAV: VP8 + Opus in WebM, 640x360, shown full screen in the room), starts
a real agent (Xvfb + Chromium + PulseAudio; `--warm`: started as a warm-pool browser and then
assigned the clip page, as the control plane does with ROOM_WARM_POOL) with the test harness's
control plane, and N viewers (`tests/agent/pages/avsync.html`, one headless Chromium each).

    .venv/bin/python bench/avsync.py [--seconds 60] [--viewers 1] [--warm] [--low-delay]
        [--stamps]

Target (EBU R37): p05 >= -40 ms and p95 <= +60 ms.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import functools
import http.server
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtcpSrPacket

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "agent"))

from harness import AgentProcess, FakeControlPlane

ROOT = Path(__file__).resolve().parents[1]
INTEROP = ROOT / "tests" / "agent" / "interop"
CLIP_SECONDS = 20
FPS = 30
RATE = 48000
FLASH_AT = 0.5  # seconds into every second: a white frame pair and a beep start together
FLASH_FRAMES = 2
BEEP_S = 0.060

ROOM_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
html,body{margin:0;background:#000;overflow:hidden}
video{position:fixed;inset:0;width:100vw;height:100vh;object-fit:fill}
</style></head><body><video src="clip.webm" autoplay loop playsinline></video></body></html>
"""


def _plain(value: int) -> av.VideoFrame:
    """A 640x360 yuv420p frame of one grey level (0 black, 255 white)."""
    frame = av.VideoFrame(640, 360, "yuv420p")
    for plane, level in zip(frame.planes, (value, 128, 128), strict=True):
        plane.update(bytes([level]) * plane.buffer_size)
    return frame


def make_clip(path: Path) -> None:
    """VP8 + Opus WebM: black, with white frames and a 1 kHz beep at FLASH_AT of every second."""
    out = av.open(str(path), "w", format="webm")
    vs = out.add_stream("libvpx", rate=FPS)
    vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
    vs.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    vs.bit_rate = 500_000
    as_ = out.add_stream("libopus", rate=RATE)
    as_.layout = "stereo"
    as_.format = "s16"
    black, white = _plain(0), _plain(255)
    for i in range(CLIP_SECONDS * FPS):
        flash = FLASH_AT * FPS <= i % FPS < FLASH_AT * FPS + FLASH_FRAMES
        frame = (white if flash else black).reformat(format="yuv420p")
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
        frame = av.AudioFrame(format="s16", layout="stereo", samples=chunk)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
        for p in as_.encode(frame):
            out.mux(p)
    for p in as_.encode():
        out.mux(p)
    out.close()


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


async def viewer(cp: FakeControlPlane, seconds: int, low_delay: bool) -> dict[str, object]:
    page = cp.page_url(f"avsync.html?lowdelay={int(low_delay)}")
    proc = await asyncio.create_subprocess_exec(
        "node",
        "run.mjs",
        page,
        str(seconds),
        "0",
        cwd=INTEROP,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), seconds + 120)
    if proc.returncode != 0:
        raise SystemExit(err.decode()[-2000:])
    result: dict[str, object] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def stamps_viewer(cp: FakeControlPlane, seconds: int) -> list[float]:
    """What the agent's timestamps say: an aiortc viewer maps each flash frame's and each beep
    onset's RTP time to the sender's clock through that stream's RTCP sender reports, and
    returns audio - video (ms) per flash. Zero means the agent stamps sound and picture alike;
    the browser viewers' figure minus this one is the viewer's own share."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    srs: dict[str, tuple[float, int]] = {}
    flashes: list[int] = []
    beeps: list[int] = []
    tasks: list[asyncio.Task[None]] = []

    def record_sr(kind: str, receiver: Any) -> None:
        original = receiver._handle_rtcp_packet

        async def handle(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                info = packet.sender_info
                srs[kind] = (info.ntp_timestamp / (1 << 32), info.rtp_timestamp)
                if os.environ.get("AVSYNC_DEBUG"):
                    now = time.time() + 2208988800
                    print(
                        f"SR {kind}: ntp - now {srs[kind][0] - now:+.3f} s rtp {info.rtp_timestamp}"
                    )
            await original(packet)

        receiver._handle_rtcp_packet = handle

    async def consume(track: Any, receiver: Any) -> None:
        # aiortc hands frames out with pts = RTP time minus the stream's first RTP timestamp
        mapper = receiver._RTCRtpReceiver__timestamp_mapper

        def rtp(pts: int) -> int:
            return int(pts + mapper._origin) % (1 << 32)

        dark, quiet = True, 0
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    y = frame.planes[0]
                    luma = bytes(y)[(frame.height // 2) * y.line_size + frame.width // 2]
                    if luma > 180 and dark:
                        flashes.append(rtp(frame.pts))
                    dark = luma < 80 if luma < 80 or luma > 180 else dark
                else:
                    pcm = array.array("h", bytes(frame.planes[0]))
                    for i in range(0, len(pcm), 2):
                        if abs(pcm[i]) > 3000:
                            if quiet > 0.3 * RATE:
                                beeps.append(rtp(frame.pts + i // 2))
                            quiet = 0
                        else:
                            quiet += 1

    @pc.on("track")
    def on_track(track: Any) -> None:
        receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
        record_sr(track.kind, receiver)
        tasks.append(asyncio.create_task(consume(track, receiver)))

    await pc.setLocalDescription(await pc.createOffer())
    answer = await cp.offer("stamps", "stamps", pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await asyncio.sleep(seconds)
    await pc.close()
    for t in tasks:
        t.cancel()
    if "video" not in srs or "audio" not in srs:
        print(f"stamps viewer: no SR ({sorted(srs)}), {len(flashes)} flashes {len(beeps)} beeps")
        return []

    def ntp(kind: str, rtp: int, rate: int) -> float:
        n0, r0 = srs[kind]
        d = (rtp - r0) % (1 << 32)
        d = d - (1 << 32) if d >= 1 << 31 else d
        return n0 + d / rate

    print(f"stamps viewer: {len(flashes)} flashes, {len(beeps)} beeps")
    audio = [ntp("audio", b, RATE) for b in beeps]
    pairs = []
    for f in flashes:
        v = ntp("video", f, 90000)
        best = min(audio, key=lambda a: abs(a - v), default=None)
        if best is not None and abs(best - v) < 0.4:
            pairs.append(1000 * (best - v))
    if not pairs and flashes and beeps:
        v0, a0 = ntp("video", flashes[0], 90000), audio[0]
        print(f"stamps viewer: nothing paired; first flash {v0:.3f}, first beep {a0:.3f}")
    return pairs


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


async def run(seconds: int, viewers: int, warm: bool, low_delay: bool, with_stamps: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="wp-bench-avsync-"))
    make_clip(tmp / "clip.webm")
    (tmp / "room.html").write_text(ROOM_PAGE)
    server, port = serve(tmp)
    room_url = f"http://127.0.0.1:{port}/room.html"
    cp = FakeControlPlane()
    await cp.start()
    load0 = os.getloadavg()[0]
    if warm:
        cp.auth_extra = {"pooled": True, "start_url": None}
    agent = AgentProcess(cp, start_url="about:blank" if warm else room_url)
    await agent.start(tmp)
    try:
        await cp.wait_type("ready", 45)
        if warm:
            await cp.send("room.assigned", {"start_url": room_url, "holder_id": None})
        await asyncio.sleep(2)  # the clip is playing
        stamps_task = asyncio.ensure_future(
            stamps_viewer(cp, seconds + 5) if with_stamps else asyncio.sleep(0, [])
        )
        results = await asyncio.gather(*(viewer(cp, seconds, low_delay) for _ in range(viewers)))
        stamps = await stamps_task
    finally:
        await agent.stop()
        await cp.stop()
        server.shutdown()
    load1 = os.getloadavg()[0]
    pairs = [float(d) for r in results for d in r["pairs"]]  # type: ignore[attr-defined]
    if not pairs:
        raise SystemExit(f"no flash/beep pair seen: {results}")
    kind = "warm-pool" if warm else "cold"
    print(f"\nlip sync at headless Chromium ({viewers} viewer(s), {kind} room, {seconds} s)")
    print("| pairs | median ms | p05 ms | p95 ms | min / max ms | target | load avg |")
    print("|---|---|---|---|---|---|---|")
    p05, p95 = pct(pairs, 0.05), pct(pairs, 0.95)
    met = "met" if p05 >= -40 and p95 <= 60 else "**not met**"
    print(
        f"| {len(pairs)} | {statistics.median(pairs):+.0f} | {p05:+.0f} | {p95:+.0f} "
        f"| {min(pairs):+.0f} / {max(pairs):+.0f} | {met} | {load0:.1f} → {load1:.1f} |"
    )
    if stamps:
        print(
            f"agent's own stamps (aiortc viewer, RTP via SR): {len(stamps)} pairs, median "
            f"{statistics.median(stamps):+.1f} ms, p05 {pct(stamps, 0.05):+.1f}, "
            f"p95 {pct(stamps, 0.95):+.1f}"
        )
    for i, r in enumerate(results):
        print(
            f"viewer {i}: flashes {r['flashes']} beeps {r['beeps']} pairs {len(r['pairs'])}"  # type: ignore[arg-type]
            f" outputLatency {r.get('outputLatency')} baseLatency {r.get('baseLatency')}"
            f" stages {json.dumps(r.get('stages'))}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--viewers", type=int, default=1)
    ap.add_argument("--warm", action="store_true", help="a warm-pool browser assigned the clip")
    ap.add_argument("--low-delay", action="store_true", help="jitterBufferTarget = 0 at viewers")
    ap.add_argument(
        "--stamps",
        action="store_true",
        help="also an aiortc viewer reading the agent's own A/V offset (RTP time via SRs)",
    )
    args = ap.parse_args()
    asyncio.run(run(args.seconds, args.viewers, args.warm, args.low_delay, args.stamps))


if __name__ == "__main__":
    main()
