"""Picture quality under motion and the CPU each `ROOM_QUALITY` costs (docs/performance.md).

A 1280x720@30 motion clip (FFmpeg's `testsrc2`: moving gradients, a scrolling pattern, a
counter) goes through the agent's own encoder (`roomagent.media.video.make_encoder`, exactly the
settings a room uses, paced frame by frame with the agent's 90 kHz timestamps) for each
`WP_QUALITY`; the packets are decoded as a viewer does and every decoded frame is compared with
its source frame (FFmpeg's `psnr` and `ssim` filters, luma+chroma). Over loopback the viewer
receives exactly these packets (the fan-out never re-encodes; a packet is only ever dropped
whole), so this is the received stream's quality without network loss. CPU is the process's
CPU time (libx264's threads included) per frame and as a share of one core at 30 fps.

    .venv/bin/python bench/quality.py [--seconds 10] [--bitrate 3000] [--qualities latency,...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser-image"))

from roomagent.config import AgentSettings
from roomagent.media.video import QUALITY, VIDEO_TIME_BASE, make_encoder

W, H, FPS = 1280, 720, 30


def compare_graph(name: str) -> tuple[Any, Any, Any, Any]:
    g = av.filter.Graph()
    ref = g.add_buffer(width=W, height=H, format="yuv420p", time_base=Fraction(1, FPS))
    dist = g.add_buffer(width=W, height=H, format="yuv420p", time_base=Fraction(1, FPS))
    f = g.add(name)
    sink = g.add("buffersink")
    ref.link_to(f, 0, 0)
    dist.link_to(f, 0, 1)
    f.link_to(sink)
    g.configure()
    return g, ref, dist, sink  # keep the graph referenced while its nodes are used


def clip(seconds: int) -> list[av.VideoFrame]:
    src = av.open(f"testsrc2=size={W}x{H}:rate={FPS}:duration={seconds}", format="lavfi")
    frames = [f.reformat(format="yuv420p") for f in src.decode(video=0)]
    src.close()
    return frames


def measure(frames: list[av.VideoFrame], quality: str, bitrate: int) -> dict[str, float]:
    settings = AgentSettings(width=W, height=H, fps=FPS, bitrate_kbps=bitrate, quality=quality)
    encoder = make_encoder(settings)
    decoder = av.CodecContext.create("h264", "r")
    psnr_g, ssim_g = compare_graph("psnr"), compare_graph("ssim")
    by_pts = {}
    psnr: list[float] = []
    ssim: list[float] = []
    size = 0
    cpu = 0.0
    for i, src in enumerate(frames):
        image = src.reformat(format="yuv420p")
        image.pts = i * 90000 // FPS
        image.time_base = VIDEO_TIME_BASE
        by_pts[image.pts] = src
        c0 = time.process_time()
        packets = encoder.encode(image)
        cpu += time.process_time() - c0
        for p in packets:
            size += p.size
            for out in decoder.decode(p):
                ref = by_pts.pop(p.pts)
                for (_, a, b, sink), values, key in (
                    (psnr_g, psnr, "lavfi.psnr.psnr_avg"),
                    (ssim_g, ssim, "lavfi.ssim.All"),
                ):
                    x, y = ref.reformat(format="yuv420p"), out.reformat(format="yuv420p")
                    x.pts = y.pts = len(values)
                    x.time_base = y.time_base = Fraction(1, FPS)
                    a.push(x)
                    b.push(y)
                    values.append(float(sink.pull().metadata[key]))
    n = len(frames)
    return {
        "psnr": statistics.mean(psnr),
        "psnr_p05": sorted(psnr)[max(0, len(psnr) // 20 - 1)],
        "ssim": statistics.mean(ssim),
        "kbps": size * 8 / (n / FPS) / 1000,
        "cpu_ms": 1000 * cpu / n,
        "core_pct": 100 * cpu / n * FPS,
        "frames": len(psnr),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--bitrate", type=int, default=AgentSettings().bitrate_kbps)
    ap.add_argument("--qualities", default=",".join(QUALITY))
    args = ap.parse_args()
    frames = clip(args.seconds)
    load0 = os.getloadavg()[0]
    print(f"\n{W}x{H}@{FPS} motion clip ({args.seconds} s testsrc2), H.264, {args.bitrate} kbps")
    print(
        "| ROOM_QUALITY | x264 preset | target kbps | actual kbps | PSNR dB mean / p05 "
        "| SSIM mean | encode CPU ms/frame | % of a core at 30 fps | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for q in args.qualities.split(","):
        r = measure(frames, q, args.bitrate)
        preset, _, factor = QUALITY[q]
        print(
            f"| {q} | {preset} | {round(args.bitrate * factor)} | {r['kbps']:.0f} "
            f"| {r['psnr']:.2f} / {r['psnr_p05']:.2f} | {r['ssim']:.4f} | {r['cpu_ms']:.1f} "
            f"| {r['core_pct']:.0f} | {load0:.1f} → {os.getloadavg()[0]:.1f} |"
        )


if __name__ == "__main__":
    main()
