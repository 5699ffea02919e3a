"""Room agent streaming benchmark (DESIGN.md section 8).

Starts a real agent (Xvfb + Chromium + PulseAudio, moving test page), connects 1, 3 and 6 aiortc
viewers and prints: delivered fps per viewer, encode ms per frame, agent CPU %, and input-to-photon
(holder click -> changed frame decoded at a viewer) p50/p95.

    .venv/bin/python bench/agent_stream.py [--codec h264|vp8] [--clicks 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "agent"))

from harness import AgentProcess, Cdp, FakeControlPlane, Viewer, is_colour, pixel

RED, BLUE = (255, 0, 0), (0, 0, 255)
PANEL = (1050, 530)


async def measure(cp: FakeControlPlane, agent: AgentProcess, n: int, seconds: float) -> dict:
    viewers = [Viewer(cp, f"bench-{n}-{i}") for i in range(n)]
    await asyncio.gather(*(v.connect() for v in viewers))
    await asyncio.gather(*(v.wait_frame(lambda f: True, 10) for v in viewers))
    await asyncio.sleep(1.5)
    assert agent.proc is not None
    proc = psutil.Process(agent.proc.pid)
    proc.cpu_percent(None)
    hb0 = await cp.heartbeat()
    t0 = time.monotonic()
    await asyncio.sleep(seconds)
    cpu = proc.cpu_percent(None)
    hb1 = await cp.heartbeat()
    t1 = time.monotonic()
    fps = [v.fps(t0, t1) for v in viewers]
    frames = hb1["frames_encoded"] - hb0["frames_encoded"]
    await asyncio.gather(*(v.close() for v in viewers))
    return {
        "viewers": n,
        "fps_min": min(fps),
        "fps_mean": statistics.mean(fps),
        "encode_ms": hb1["encode_ms"],
        "encoded_fps": frames / (t1 - t0),
        "cpu": cpu,
    }


async def input_to_photon(cp: FakeControlPlane, agent: AgentProcess, clicks: int) -> list[float]:
    cdp = Cdp(agent.cdp_port)
    holder, watcher = Viewer(cp, "holder"), Viewer(cp, "watcher")
    await asyncio.gather(holder.connect(), watcher.connect())
    await holder.wait_channels()
    await cp.set_holder("holder")
    go = await cdp.evaluate("layout('#go')")
    out = []
    want = RED
    for _ in range(clicks):
        before = BLUE if want == RED else RED
        await watcher.wait_frame(lambda f, b=before: is_colour(pixel(f, *PANEL), b), 5)
        await asyncio.sleep(0.3)
        sent = time.monotonic()
        holder.click(go["x"], go["y"])
        target = want
        seen = await watcher.wait_frame(lambda f, t=target: is_colour(pixel(f, *PANEL), t), 5)
        out.append((seen - sent) * 1000)
        want = BLUE if want == RED else RED
    await asyncio.gather(holder.close(), watcher.close())
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", default="h264", choices=["h264", "vp8"])
    ap.add_argument("--clicks", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--viewers", default="1,3,6")
    args = ap.parse_args()
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(cp, codec=args.codec, start_url=cp.page_url("anim.html"))
    await agent.start(Path(tempfile.mkdtemp(prefix="wp-bench-")))
    try:
        await cp.wait_type("ready", 60)
        rows = [await measure(cp, agent, int(n), args.seconds) for n in args.viewers.split(",")]
        lat = await input_to_photon(cp, agent, args.clicks)
    finally:
        await agent.stop()
        await cp.stop()
    print(f"\nroom agent, {args.codec} 1280x720@30, moving canvas page, loopback, aiortc viewers")
    print("| viewers | delivered fps (min / mean) | encoder fps | encode ms/frame | agent CPU % |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['viewers']} | {r['fps_min']:.1f} / {r['fps_mean']:.1f} | {r['encoded_fps']:.1f}"
            f" | {r['encode_ms']:.1f} | {r['cpu']:.0f} |"
        )
    q = statistics.quantiles(lat, n=20)
    print(
        f"\ninput-to-photon (holder click -> changed frame decoded), {len(lat)} clicks: "
        f"p50 {statistics.median(lat):.0f} ms, p95 {q[18]:.0f} ms, max {max(lat):.0f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
