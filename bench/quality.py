"""Picture quality under motion and the CPU each `ROOM_QUALITY` costs (docs/performance.md).

The source is a 1280x720@30 motion clip made from FFmpeg sources (``--source``, a lavfi graph;
by default `testsrc2` across the top half, a panning Sierpinski carpet and a zooming Mandelbrot
set below), with the source frame's number drawn in as two rows of black/white blocks (12 bits
and their complement, top-left and bottom-left), so a receiver can tell which source frame it
got and whether the grab was torn (the two rows disagree). Quality is FFmpeg's `psnr` and `ssim`
filters per `WP_QUALITY` at the default bitrate, on the picture without the number rows and the
right edge (1264x624 of 1280x720), over the same frames on both paths: not the first ``--skip``
seconds (the player and the rate control settling) nor the last frame (a paused player's
repeats).

Two paths are measured:

- encoder only (always): the frames go straight through the agent's own encoder
  (`roomagent.media.video.make_encoder`, the room's exact settings, 90 kHz timestamps) and are
  decoded as a viewer does. CPU is the process's CPU time per frame (libx264's threads included)
  and as a share of one core at 30 fps.
- ``--through-room``: end to end. The clip is written as lossless VP9 in WebM (tagged BT.601
  limited range, the matrix the agent's BGR -> YUV conversion assumes, so colour differences are
  the path's and not a matrix mismatch) and played by a real room (tests/support/agent.py: agent
  + Xvfb + Chromium + PulseAudio, `WP_WIDTH=1280 WP_HEIGHT=720`, one agent per `WP_QUALITY`) on
  a page showing the video at its natural size at the top-left corner (checked through DevTools
  before it plays: no scaling). An aiortc viewer decodes the stream; every received frame is
  matched by its number with the regenerated source frame. Checks printed with each row:
  unreadable numbers, torn grabs, numbers going backwards, and for every 4th frame whether its
  own source frame is closer to it than the source frames either side. CPU is the agent
  process's (grab, BGR -> YUV, encode, send) over the playing time, the room's other processes
  (Chromium decoding and painting the clip, Xvfb) apart. The clip's own coding loss (decoded WebM
  against the generated frames) is printed as well.

    .venv/bin/python -m bench.quality [--seconds 10] [--bitrate 3000] [--qualities latency,...]
        [--through-room] [--skip 1] [--source LAVFI_GRAPH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import psutil
from roomagent.config import AgentSettings
from roomagent.media.video import QUALITY, VIDEO_TIME_BASE, make_encoder, open_x11grab

W, H, FPS = 1280, 720, 30

# The frame number: BITS blocks of the number, then BITS of its complement (a misread block
# breaks the pair, so a wrong number is not taken for a right one). Blocks are 32 px, two
# macroblocks wide, so the encoder's blocks never mix a black and a white one.
BLOCK = 32
BITS = 12
# Top-left and bottom-left. Rows that disagree mean a torn grab, or an encoder short of bits
# leaving part of the picture a frame behind (seen at a tenth of the default bitrate).
STRIP_ROWS = (0, H - BLOCK)
# Rows left out of the comparison: the number rows plus one macroblock row of margin for the
# deblocking filter and chroma subsampling at their edges.
MARGIN = 48
# Columns left out at the right: the room's last screen column is not the page's (see
# through_room); one macroblock column keeps the comparison on whole macroblocks.
RIGHT_MARGIN = 16
BLACK, WHITE = 16, 235  # limited-range luma

# Fixed seeds: the source is generated again for every comparison and must be the same.
DEFAULT_SOURCE = (
    f"testsrc2=s={W}x{H // 2}:r={FPS}[top];"
    f"sierpinski=s={W // 2}x{H // 2}:r={FPS}:type=carpet:seed=1[left];"
    f"mandelbrot=s={W // 2}x{H // 2}:r={FPS}[right];"
    "[left][right]hstack[bottom];[top][bottom]vstack"
)

# The clip is fetched whole into a blob first: Chromium then has every frame in memory (no
# network reads while playing, and Python's file server does not answer range requests).
ROOM_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
html,body{margin:0;padding:0;background:#000;overflow:hidden}
video{position:fixed;left:0;top:0;width:{W}px;height:{H}px;object-fit:fill}
</style></head><body><video preload="auto" muted playsinline></video><script>
fetch('clip.webm').then(r => r.blob()).then(b => {
  document.querySelector('video').src = URL.createObjectURL(b);
});
</script></body></html>
""".replace("{W}", str(W)).replace("{H}", str(H))

# What the page looks like to the room's Chromium: the video must be shown at its natural size
# at the top-left corner (no scaling, which would blur the picture before capture) and loaded.
PAGE_STATE = """(() => {
  const v = document.querySelector('video');
  const r = v.getBoundingClientRect();
  return {innerWidth, innerHeight, dpr: devicePixelRatio, videoWidth: v.videoWidth,
          videoHeight: v.videoHeight, box: [r.left, r.top, r.width, r.height],
          readyState: v.readyState, duration: v.duration,
          buffered: v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0};
})()"""


# -- the clip -------------------------------------------------------------------------------------
def draw_number(frame: av.VideoFrame, n: int) -> None:
    """Draw n (and its complement) as blocks into both number rows of a yuv420p frame."""
    bits = [(n >> i) & 1 for i in range(BITS)] + [1 - ((n >> i) & 1) for i in range(BITS)]
    y_plane, u_plane, v_plane = frame.planes
    for row in STRIP_ROWS:
        for plane, scale, levels in (
            (y_plane, 1, (BLACK, WHITE)),
            (u_plane, 2, (128, 128)),
            (v_plane, 2, (128, 128)),
        ):
            data = bytearray(bytes(plane))
            stride = plane.line_size
            size = BLOCK // scale
            line = b"".join(bytes([levels[b]]) * size for b in bits)
            for y in range(row // scale, row // scale + size):
                data[y * stride : y * stride + len(line)] = line
            plane.update(bytes(data))


def _block_level(plane: Any, x: int, y: int) -> int:
    """Mean luma of the 8x8 pixels at the centre of the block whose top-left is (x, y)."""
    mv = memoryview(plane)
    stride = plane.line_size
    c = BLOCK // 2 - 4
    total = 0
    for yy in range(y + c, y + c + 8):
        start = yy * stride + x + c
        total += sum(mv[start : start + 8])
    return total // 64


def read_number(frame: av.VideoFrame, row: int) -> int | None:
    """The number in one number row, or None where a block's pair does not match."""
    y_plane = frame.planes[0]
    mid = (BLACK + WHITE) // 2
    bits = [int(_block_level(y_plane, i * BLOCK, row) > mid) for i in range(2 * BITS)]
    if any(bits[i] == bits[i + BITS] for i in range(BITS)):
        return None
    return sum(b << i for i, b in enumerate(bits[:BITS]))


def source_frames(source: str, seconds: float) -> Iterator[av.VideoFrame]:
    """The generated clip, numbered (regenerated on demand: lavfi sources are deterministic)."""
    graph = f"{source},format=yuv420p,trim=duration={seconds}[out0]"
    container = av.open(graph, format="lavfi")
    try:
        for i, f in enumerate(container.decode(video=0)):
            if (f.width, f.height) != (W, H):
                raise SystemExit(f"--source makes {f.width}x{f.height}, not {W}x{H}")
            frame = f.reformat(format="yuv420p")
            draw_number(frame, i)
            yield frame
    finally:
        container.close()


def make_clip(path: Path, source: str, seconds: float) -> int:
    """Lossless VP9 WebM of the numbered clip; returns its frame count."""
    out = av.open(str(path), "w", format="webm")
    stream = out.add_stream("libvpx-vp9", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    stream.options = {"lossless": "1", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}
    ctx = stream.codec_context
    # BT.601 limited range: what swscale's default bgr0 -> yuv420p in the agent assumes, so a
    # colour round trip through Chromium's YUV -> RGB and back is as close to identity as it can be.
    ctx.color_range = 1  # MPEG (limited)
    ctx.colorspace = 6  # SMPTE 170M
    ctx.color_primaries = 6
    ctx.color_trc = 6
    n = 0
    for i, frame in enumerate(source_frames(source, seconds)):
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        for p in stream.encode(frame):
            out.mux(p)
        n += 1
    for p in stream.encode():
        out.mux(p)
    out.close()
    return n


# -- comparing ------------------------------------------------------------------------------------
class Compare:
    """FFmpeg's psnr and ssim on the picture without the number rows and the right edge."""

    def __init__(self) -> None:
        self._graphs = [self._graph("psnr"), self._graph("ssim")]
        self._pts = 0

    @staticmethod
    def _graph(name: str) -> tuple[Any, Any, Any, Any]:
        g = av.filter.Graph()
        crop = f"w={W - RIGHT_MARGIN}:h={H - 2 * MARGIN}:x=0:y={MARGIN}"
        ref = g.add_buffer(
            width=W, height=H, format=av.VideoFormat("yuv420p"), time_base=Fraction(1, FPS)
        )
        dist = g.add_buffer(
            width=W, height=H, format=av.VideoFormat("yuv420p"), time_base=Fraction(1, FPS)
        )
        crop_ref, crop_dist = g.add("crop", crop), g.add("crop", crop)
        f = g.add(name)
        sink = g.add("buffersink")
        ref.link_to(crop_ref)
        dist.link_to(crop_dist)
        crop_ref.link_to(f, 0, 0)
        crop_dist.link_to(f, 0, 1)
        f.link_to(sink)
        g.configure()
        return g, ref, dist, sink  # keep the graph referenced while its nodes are used

    def __call__(self, ref: av.VideoFrame, dist: av.VideoFrame) -> tuple[float, float, float]:
        """(PSNR of Y, PSNR of Y+U+V, SSIM of Y+U+V)."""
        out = []
        for _g, a, b, sink in self._graphs:
            x, y = ref.reformat(format="yuv420p"), dist.reformat(format="yuv420p")
            x.pts = y.pts = self._pts
            x.time_base = y.time_base = Fraction(1, FPS)
            a.push(x)
            b.push(y)
            out.append(sink.pull().metadata)
        self._pts += 1
        psnr, ssim = out
        return (
            float(psnr["lavfi.psnr.psnr.y"]),
            float(psnr["lavfi.psnr.psnr_avg"]),
            float(ssim["lavfi.ssim.All"]),
        )


@dataclass
class Scores:
    psnr_y: list[float] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)

    def add(self, values: tuple[float, float, float]) -> None:
        self.psnr_y.append(values[0])
        self.psnr.append(values[1])
        self.ssim.append(values[2])

    def cells(self) -> str:
        if not self.psnr:
            return "- | - | -"
        if all(math.isinf(v) for v in self.psnr):
            return "lossless | lossless | 1"
        p05 = sorted(self.psnr)[max(0, len(self.psnr) // 20 - 1)]
        return (
            f"{statistics.mean(self.psnr_y):.2f} | {statistics.mean(self.psnr):.2f} / {p05:.2f} "
            f"| {statistics.mean(self.ssim):.4f}"
        )


def clip_loss(path: Path, source: str, seconds: float) -> Scores:
    """The clip file's own coding loss: its decoded frames against the generated ones."""
    compare = Compare()
    scores = Scores()
    container = av.open(str(path))
    try:
        decoded = container.decode(video=0)
        for ref, got in zip(source_frames(source, seconds), decoded, strict=False):
            scores.add(compare(ref, got))
    finally:
        container.close()
    return scores


# -- encoder only ---------------------------------------------------------------------------------
def encoder_only(
    source: str, seconds: float, quality: str, bitrate: int, skip: int
) -> dict[str, Any]:
    """The frames through the room's encoder only; compared over the same range as a room's."""
    settings = AgentSettings(width=W, height=H, fps=FPS, bitrate_kbps=bitrate, quality=quality)
    encoder = make_encoder(settings)
    decoder = av.CodecContext.create("h264", "r")
    compare = Compare()
    scores = Scores()
    by_pts: dict[int, av.VideoFrame] = {}
    size = 0
    cpu = 0.0
    n = 0
    last = round(seconds * FPS) - 1  # not compared in a room either (the player's repeats)
    for i, src in enumerate(source_frames(source, seconds)):
        image = src.reformat(format="yuv420p")
        image.pts = i * 90000 // FPS
        image.time_base = VIDEO_TIME_BASE
        by_pts[image.pts] = src
        c0 = time.process_time()
        packets = encoder.encode(image)
        cpu += time.process_time() - c0
        n += 1
        for p in packets:
            size += p.size
            for out in decoder.decode(p):
                assert p.pts is not None
                ref = by_pts.pop(p.pts)
                if skip <= p.pts * FPS // 90000 < last:
                    scores.add(compare(ref, out))
    return {
        "scores": scores,
        "kbps": size * 8 / (n / FPS) / 1000,
        "cpu_ms": 1000 * cpu / n,
        "core_pct": 100 * cpu / n * FPS,
        "frames": len(scores.psnr),
    }


# -- through a room -------------------------------------------------------------------------------
@dataclass
class Received:
    t: float
    number: int | None
    bottom: int | None
    frame: av.VideoFrame | None  # None outside the compared range (not kept)


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def grab_screen(display: str, stop: threading.Event, frames: int, skip: int) -> list[Received]:
    """The room's screen grabbed and converted as the agent does it (its own x11grab opening,
    bgr0 -> yuv420p by swscale), 30 times a second until `stop`: the capture path without the
    encoder."""
    container, packets = open_x11grab(display, W, H)
    out: list[Received] = []
    due = time.monotonic()
    try:
        while not stop.is_set():
            packet = next(packets, None)
            if packet is None:
                break
            for frame in packet.decode():
                image = frame.reformat(format="yuv420p")
                top, bottom = (read_number(image, row) for row in STRIP_ROWS)
                keep = top is None or skip <= top < frames - 1
                out.append(Received(time.monotonic(), top, bottom, image if keep else None))
            due += 1 / FPS
            time.sleep(max(0.0, due - time.monotonic()))
    finally:
        container.close()
    return out


def _room_display(agent_pid: int) -> str:
    for child in psutil.Process(agent_pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "chrom" in child.name() and (display := child.environ().get("DISPLAY")):
                return display
    raise SystemExit("the room's display was not found")


async def through_room(
    clip_dir: Path, frames: int, quality: str, bitrate: int, skip: int, capture_pass: bool
) -> dict[str, Any]:
    """One room at `quality` plays the clip to a recording aiortc viewer; with `capture_pass`,
    the clip then plays once more with nobody watching (the agent does no media work then) and
    this process grabs the screen itself."""
    from tests.support.agent import AgentProcess, Cdp, FakeControlPlane, Viewer
    from tests.support.servers import static_files

    received: list[Received] = []
    recording = False

    class RecordingViewer(Viewer):
        """Keeps every decoded frame (with its number, read as it arrives) while recording."""

        async def _consume(self, track: Any) -> None:
            from aiortc.mediastreams import MediaStreamError

            with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
                while True:
                    frame = await track.recv()
                    if not isinstance(frame, av.VideoFrame):
                        continue
                    self.latest = frame
                    self.frame_event.set()
                    if recording:
                        top, bottom = (read_number(frame, row) for row in STRIP_ROWS)
                        # only the compared range is kept: a few hundred 720p frames in memory
                        keep = top is None or skip <= top < frames - 1
                        received.append(
                            Received(time.monotonic(), top, bottom, frame if keep else None)
                        )

    cp = FakeControlPlane()
    await cp.start()
    env = {
        "WP_QUALITY": quality,
        "WP_BITRATE_KBPS": str(bitrate),
        # the product's keyframe period (the harness stretches it for its tests): a periodic
        # keyframe costs picture quality, and the encoder-only path has it too
        "WP_KEYFRAME_INTERVAL_S": str(AgentSettings().keyframe_interval_s),
    }
    log_dir = Path(tempfile.mkdtemp(prefix="wp-bench-quality-"))
    with static_files(clip_dir) as url:
        agent = AgentProcess(
            cp, start_url=f"{url}/room.html", width=W, height=H, fps=FPS, extra_env=env
        )
        await agent.start(log_dir)
        viewer: Viewer | None = None
        try:
            await cp.wait_type("ready", 60)
            cdp = Cdp(agent.cdp_port)
            deadline = time.monotonic() + 30
            while True:
                page = await cdp.evaluate(PAGE_STATE)
                if page and page["readyState"] >= 4 and page["buffered"] >= page["duration"] - 0.1:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the clip did not load in the room: {page}")
                await asyncio.sleep(0.2)
            want = {"dpr": 1, "videoWidth": W, "videoHeight": H, "box": [0, 0, W, H]}
            wrong = {k: (page[k], v) for k, v in want.items() if page[k] != v}
            # Rooms before the launcher's SCREEN_MARGIN showed a 1279x719 page (Chromium keeps a
            # window the size of the screen one pixel short each way): accepted, and the last
            # column and row are not compared (RIGHT_MARGIN) so old and new runs compare alike.
            if page["innerWidth"] < W - 1 or page["innerHeight"] < H - 1:
                wrong["viewport"] = ([page["innerWidth"], page["innerHeight"]], [W, H])
            if wrong:
                raise SystemExit(f"the video is not shown 1:1 on the screen (got, want): {wrong}")
            viewport = (page["innerWidth"], page["innerHeight"])
            viewer = RecordingViewer(cp, "quality-viewer")
            await viewer.connect()
            await viewer.wait_frame(lambda f: True, 20)
            await asyncio.sleep(1)  # past the first keyframe and the viewer's start-up
            assert agent.proc is not None
            agent_ps = psutil.Process(agent.proc.pid)
            others = agent_ps.children(recursive=True)
            recording = True
            await cdp.evaluate("document.querySelector('video').play()")
            c_agent, c_others, t0 = _cpu_seconds([agent_ps]), _cpu_seconds(others), time.monotonic()
            end = t0 + frames / FPS + 10
            while time.monotonic() < end:
                if await cdp.evaluate("document.querySelector('video').ended"):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(0.3)  # the last frames on their way
            recording = False
            t1 = time.monotonic()
            cpu_agent = 100 * (_cpu_seconds([agent_ps]) - c_agent) / (t1 - t0)
            cpu_others = 100 * (_cpu_seconds(others) - c_others) / (t1 - t0)
            grabbed: list[Received] = []
            if capture_pass:
                await viewer.close()
                viewer = None
                await cdp.evaluate("document.querySelector('video').currentTime = 0")
                await asyncio.sleep(1)
                stop = threading.Event()
                display = _room_display(agent.proc.pid)
                grabbing = asyncio.ensure_future(
                    asyncio.to_thread(grab_screen, display, stop, frames, skip)
                )
                await cdp.evaluate("document.querySelector('video').play()")
                end = time.monotonic() + frames / FPS + 10
                while time.monotonic() < end and not grabbing.done():
                    if await cdp.evaluate("document.querySelector('video').ended"):
                        break
                    await asyncio.sleep(0.2)
                stop.set()
                grabbed = await grabbing
        finally:
            if viewer is not None:
                await viewer.close()
            await agent.stop()
            await cp.stop()
            shutil.rmtree(log_dir, ignore_errors=True)
    return {
        "received": received,
        "cpu_agent": cpu_agent,
        "cpu_others": cpu_others,
        **playing_heartbeats(cp.messages, t0, t1),
        "viewport": viewport,
        "grabbed": grabbed,
    }


def playing_heartbeats(messages: list[dict[str, Any]], t0: float, t1: float) -> dict[str, float]:
    """Per-frame encode and grab+convert times and the bitrate, from the agent's heartbeats
    (each covers the second before it) sent while the clip played."""
    beats = [
        m["data"]
        for m in messages
        if m["type"] == "heartbeat" and t0 + 1.0 <= m["_t"] <= t1 - 0.3 and m["data"]["fps"]
    ]
    if not beats:
        return {"encode_ms": math.nan, "capture_ms": math.nan, "kbps": math.nan}
    frames = sum(b["fps"] for b in beats)
    return {
        "encode_ms": sum(b["encode_ms"] * b["fps"] for b in beats) / frames,
        "capture_ms": sum(b.get("capture_ms", 0.0) * b["fps"] for b in beats) / frames,
        "kbps": statistics.mean(b["bitrate_kbps"] for b in beats),
    }


def score_received(
    received: list[Received], source: str, seconds: float, frames: int, skip: int
) -> dict[str, Any]:
    """Compare each kept frame with its source frame; count what could not be compared."""
    readable = [r for r in received if r.number is not None]
    unreadable = len(received) - len(readable)
    numbers = [r.number for r in readable if r.number is not None]
    backwards = sum(1 for a, b in itertools.pairwise(numbers) if b < a)
    kept = [r for r in readable if r.frame is not None]
    if backwards:
        print(f"warning: frame numbers went backwards {backwards} times", file=sys.stderr)
    torn = sum(1 for r in kept if r.bottom != r.number)
    compare, neighbours = Compare(), Compare()
    scores = Scores()
    # A check of the numbers against the pictures: for every 4th frame, its source frame must
    # be closer to it than the source frames just before and after (motion makes them differ).
    checked = best = 0
    wanted = iter(kept)
    nxt = next(wanted, None)
    window: dict[int, av.VideoFrame] = {}
    for i, src in enumerate(source_frames(source, seconds)):
        window[i] = src
        window.pop(i - 3, None)
        j = i - 1  # the frame before: its neighbours on both sides are now in the window
        while nxt is not None and nxt.number == j:
            assert nxt.frame is not None
            values = compare(window[j], nxt.frame)
            scores.add(values)
            if len(scores.psnr) % 4 == 1 and j - 1 in window:
                checked += 1
                others = [neighbours(window[k], nxt.frame)[1] for k in (j - 1, i)]
                best += values[1] > max(others)
            nxt = next(wanted, None)
        if nxt is None:
            break
    fps = (len(kept) - 1) / (kept[-1].t - kept[0].t) if len(kept) > 1 else 0.0
    return {
        "scores": scores,
        "unreadable": unreadable,
        "backwards": backwards,
        "torn": torn,
        "checked": checked,
        "best": best,
        "distinct": len({r.number for r in kept}),
        "expected": frames - 1 - skip,
        "fps": fps,
    }


# -- the report -----------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--bitrate", type=int, default=AgentSettings().bitrate_kbps)
    ap.add_argument("--qualities", default=",".join(QUALITY))
    ap.add_argument("--through-room", action="store_true", help="also the real room's path")
    ap.add_argument("--skip", type=float, default=1.0, help="clip seconds not compared")
    ap.add_argument("--source", default=DEFAULT_SOURCE, help="lavfi graph making 1280x720@30")
    args = ap.parse_args()
    qualities = args.qualities.split(",")
    skip = round(args.skip * FPS)
    load0 = os.getloadavg()[0]
    print(
        f"\n{W}x{H}@{FPS} motion clip ({args.seconds:g} s), H.264 at {args.bitrate} kbps; "
        f"PSNR/SSIM without the number rows and the right edge "
        f"({W - RIGHT_MARGIN}x{H - 2 * MARGIN} compared)"
    )
    rows: list[str] = []
    loss_note = ""
    viewports: set[tuple[int, int]] = set()
    capture_note = ""
    if args.through_room:
        tmp = Path(tempfile.mkdtemp(prefix="wp-bench-quality-clip-"))
        try:
            frames = make_clip(tmp / "clip.webm", args.source, args.seconds)
            (tmp / "room.html").write_text(ROOM_PAGE)
            loss = clip_loss(tmp / "clip.webm", args.source, args.seconds)
            loss_note = (
                f"clip's own loss (lossless VP9 WebM decoded vs generated, {len(loss.psnr)} "
                f"frames): PSNR Y | all | SSIM = {loss.cells()}"
            )
            for q in qualities:
                first = q == qualities[0]
                r = asyncio.run(through_room(tmp, frames, q, args.bitrate, skip, first))
                viewports.add(r["viewport"])
                s = score_received(r["received"], args.source, args.seconds, frames, skip)
                rows.append(
                    f"| through the room | {q} | {QUALITY[q][0]} "
                    f"| {round(args.bitrate * QUALITY[q][2])} "
                    f"| {len(s['scores'].psnr)} (actual {r['kbps']:.0f} kbps; "
                    f"{s['distinct']}/{s['expected']} source frames;"
                    f" {s['unreadable']} unreadable, {s['torn']} torn, {s['backwards']} backwards;"
                    f" own source frame the closest in {s['best']}/{s['checked']})"
                    f" | {s['scores'].cells()} | {s['fps']:.1f} "
                    f"| agent {r['cpu_agent']:.0f} (encode {r['encode_ms']:.1f} ms, grab+convert "
                    f"{r['capture_ms']:.1f} ms); Chromium+Xvfb {r['cpu_others']:.0f} "
                    f"| {os.getloadavg()[0]:.1f} |"
                )
                print(rows[-1], file=sys.stderr, flush=True)
                if first:
                    g = score_received(r["grabbed"], args.source, args.seconds, frames, skip)
                    capture_note = (
                        f"capture path alone (the room's screen grabbed and converted as the "
                        f"agent does, nobody watching, no encoder): {len(g['scores'].psnr)} "
                        f"frames ({g['distinct']}/{g['expected']} source frames; "
                        f"{g['unreadable']} unreadable, {g['torn']} torn, {g['backwards']} "
                        f"backwards): PSNR Y | all mean / p05 | SSIM = {g['scores'].cells()}"
                    )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    for q in qualities:
        e = encoder_only(args.source, args.seconds, q, args.bitrate, skip)
        rows.append(
            f"| encoder only | {q} | {QUALITY[q][0]} | {round(args.bitrate * QUALITY[q][2])} "
            f"| {e['frames']} (actual {e['kbps']:.0f} kbps) | {e['scores'].cells()} | - "
            f"| {e['cpu_ms']:.1f} ms/frame = {e['core_pct']:.0f} | {os.getloadavg()[0]:.1f} |"
        )
    rows.sort(key=lambda row: (qualities.index(row.split("|")[2].strip()), row))
    print(
        "\n| path | ROOM_QUALITY | x264 preset | target kbps | frames compared "
        "| PSNR Y dB | PSNR dB mean / p05 | SSIM | received fps | CPU % of a core | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if loss_note:
        print(f"\n{loss_note}")
        print(capture_note)
        print(f"room's page viewport (innerWidth x innerHeight): {sorted(viewports)}")
    print(f"\nload average {load0:.1f} → {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
