"""Input-to-photon at a real browser viewer (figures: docs/performance.md): headless Chromium
holds the remote, clicks through the `input` data channel and times the first presented frame
showing the change (requestVideoFrameCallback + a canvas pixel read; tests/agent/pages/photon.html).

Starts a real agent (Xvfb + Chromium + PulseAudio, tests/agent/pages/anim.html), H.264 720p30,
and one browser viewer via Playwright (system Chromium). The browser's own playout delay is
included: this is what a person watching in Chromium would see, less their screen.

    .venv/bin/python -m bench.browser_photon [--clicks 30] [--codec h264|vp8] [--low-delay]
        [--static] [--sound] [--others 9]

The page is silent unless `--sound` (a 440 Hz tone): with the agent's default
`WP_VIDEO_PLAYOUT=auto` a silent room's video is marked "show at once" and a sounding one keeps
the browser's own timing, which holds video for lip sync (media/playout.py); the mode used is
printed.

"On screen" is the first rendering update (requestAnimationFrame) whose drawing of the video
shows the change: the frame's own `requestVideoFrameCallback` times (`now`,
`expectedDisplayTime`) are the receiver's intentions and, with "show at once", come out before
the frame was even received.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
from pathlib import Path

from tests.support.agent import AgentProcess, Cdp, FakeControlPlane, Viewer

ROOT = Path(__file__).resolve().parents[1]
PANEL = (1050, 530)
INTEROP = ROOT / "tests" / "agent" / "interop"


async def run(
    clicks: int, codec: str, low_delay: bool, static: bool, sound: bool, others: int
) -> None:
    cp = FakeControlPlane()
    await cp.start()
    page = cp.page_url(f"anim.html?static={int(static)}&tone={int(sound)}")
    agent = AgentProcess(cp, codec=codec, start_url=page)
    watchers: list[Viewer] = []
    await agent.start(Path(tempfile.mkdtemp(prefix="wp-bench-photon-")))
    try:
        await cp.wait_type("ready", 45)
        go = await Cdp(agent.cdp_port).evaluate("layout('#go')")
        await cp.set_holder("browser")
        # the rest of the room: aiortc viewers that decode everything (the agent sends to all)
        watchers.extend(Viewer(cp, f"watcher-{i}") for i in range(others))
        for w in watchers:
            await w.connect()
        for w in watchers:
            await w.wait_frame(lambda f: True, 20)
        page = cp.page_url(
            f"photon.html?gx={go['x']}&gy={go['y']}&px={PANEL[0]}&py={PANEL[1]}"
            f"&lowdelay={int(low_delay)}"
        )
        seen_from = len(cp.messages)  # heartbeats from here on are the browser viewer's run
        proc = await asyncio.create_subprocess_exec(
            "node",
            "run.mjs",
            page,
            str(clicks * 2),  # seconds allowed
            str(clicks),
            cwd=INTEROP,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), clicks * 3 + 60)
        if proc.returncode != 0:
            raise SystemExit(err.decode()[-2000:])
        res = json.loads(out.decode().strip().splitlines()[-1])
        # what the agent reported while the browser viewer watched (1 s heartbeats)
        beats = [m["data"] for m in cp.messages[seen_from:] if m["type"] == "heartbeat"]
        playout = sorted({b.get("video_playout") for b in beats} - {None})
        taking = max((b.get("playout_delay_viewers", 0) for b in beats), default=0)
    finally:
        for w in watchers:
            await w.close()
        await agent.stop()
        await cp.stop()
    lat = sorted(res["lat"])
    if not lat:
        raise SystemExit(f"no click showed on screen: {res}")
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    mode = "jitterBufferTarget 0" if low_delay else "default playout"
    mode += ", static page" if static else ", moving page"
    mode += ", with sound" if sound else ", silent"
    mode += f", {others} more viewers (aiortc)" if others else ""
    mode += f", video playout: {'/'.join(playout)} ({taking} viewer(s) took the extension)"
    print(f"\ninput-to-photon at headless Chromium ({codec}, {mode})")
    print("| clicks seen / sent | p50 ms | p95 ms | max ms | load avg |\n|---|---|---|---|---|")
    print(
        f"| {len(lat)} / {clicks} | {statistics.median(lat):.0f} | {p95:.0f} | {lat[-1]:.0f} "
        f"| {os.getloadavg()[0]:.1f} |"
    )
    for key, what in (
        ("toReceived", "click → changed frame received (room, agent, network)"),
        ("toShown", "received → on the page (the viewer: jitter buffer, decode, compositing)"),
        ("callback", "click → the frame callback's `now` (the measure before rAF)"),
    ):
        xs = sorted(s[key] for s in res.get("stages", []) if s.get(key) is not None)
        if xs:
            print(
                f"{what}: p50 {statistics.median(xs):.0f} ms, "
                f"p95 {xs[min(len(xs) - 1, int(0.95 * len(xs)))]:.0f} ms"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clicks", type=int, default=30)
    ap.add_argument("--codec", default="h264", choices=["h264", "vp8"])
    ap.add_argument(
        "--low-delay",
        action="store_true",
        help="the viewer sets jitterBufferTarget/playoutDelayHint = 0 on its video receiver",
    )
    ap.add_argument("--static", action="store_true", help="the page only changes on a click")
    ap.add_argument("--sound", action="store_true", help="the page plays a tone meanwhile")
    ap.add_argument("--others", type=int, default=0, help="aiortc viewers watching as well")
    args = ap.parse_args()
    asyncio.run(run(args.clicks, args.codec, args.low_delay, args.static, args.sound, args.others))


if __name__ == "__main__":
    main()
