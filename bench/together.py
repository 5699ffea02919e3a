# ruff: noqa: ASYNC109
"""Watching together (figures: docs/performance.md, "Watching together"): how soon a media
command is seen in the picture at another viewer, and how soon the room's browser shows the
queue's next page after the media ended.

Starts a real agent (Xvfb + Chromium + PulseAudio) on a fake control plane (tests/agent/harness.py)
playing a clip made at test time (tests/support/clip.py: one colour per second, a bar crossing the
top once a second), and one aiortc viewer that decodes every frame (completing frames on the RTP
marker bit, as browsers do: bench/agent_stream.py). Measured from the moment the fake control
plane sends the agent its message (the hub's own hop is not in these figures):

- pause: `media.cmd pause` → the picture stops changing (the last frame that differs from the one
  before it; 0 when the picture froze at once);
- play: `media.cmd play` → the first frame that differs from the frozen one;
- seek: `media.cmd seek` → the first frame in the target second's colour;
- queue advance: `media.ended` arrives → the fake control plane sends `browser.navigate` to the
  next page at once → its first frame at the viewer; and the clip's last picture change at the
  viewer → `media.ended` (how long the agent took to notice the end).

    .venv/bin/python bench/together.py [--commands 20] [--advances 10] [--codec h264|vp8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "agent"))

from harness import AgentProcess, FakeControlPlane, Viewer

from bench.agent_stream import _install_marker_jitter_buffer
from tests.support.clip import PALETTE, bar_position, colour_index, make_clip
from tests.support.frames import is_colour, pixel

CLIP_S = 40.0
NEXT = (250, 250, 250)  # tests/agent/pages/next.html


class ClipViewer(Viewer):
    """A viewer that reads, from every decoded frame, where the clip's bar is and its colour."""

    def __init__(self, cp: FakeControlPlane, user: str) -> None:
        super().__init__(cp, user)
        self.seen: list[tuple[float, float, int | None, tuple[int, int, int]]] = []

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.VideoFrame):
                    continue
                now = time.monotonic()
                centre = pixel(frame, frame.width // 2, int(frame.height * 0.7))
                self.seen.append((now, bar_position(frame), colour_index(frame), centre))
                self.latest = frame
                self.frame_event.set()

    def since(self, t: float) -> list[tuple[float, float, int | None, tuple[int, int, int]]]:
        return [s for s in self.seen if s[0] >= t]

    async def until(self, pred: Any, timeout: float, since: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in self.since(since):
                if pred(s):
                    return s[0]
            await asyncio.sleep(0.01)
        raise TimeoutError("no such frame")


def moved(a: float, b: float) -> bool:
    return abs(a - b) > 0.02  # the bar moves ~3 % of the width per frame


async def cmd(cp: FakeControlPlane, action: str, value: float | None = None) -> float:
    data: dict[str, Any] = {"action": action}
    if value is not None:
        data["value"] = value
    t = time.monotonic()
    await cp.send("media.cmd", data)
    return t


async def state(cp: FakeControlPlane, pred: Any, timeout: float = 10) -> dict[str, Any]:
    found = await cp.wait_for(
        lambda m: m["type"] == "media.state" and pred(m["data"]), timeout, past=True
    )
    return dict(found["data"])


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def row(name: str, xs: list[float], n: int) -> str:
    if not xs:
        return f"| {name} | 0 / {n} | - | - | - |"
    ms = [1000 * x for x in xs]
    return (
        f"| {name} | {len(xs)} / {n} | {statistics.median(ms):.0f} | {pct(ms, 0.95):.0f} "
        f"| {max(ms):.0f} |"
    )


async def run(commands: int, advances: int, codec: str) -> None:
    _install_marker_jitter_buffer()
    tmp = Path(tempfile.mkdtemp(prefix="wp-bench-together-"))
    clip = await asyncio.to_thread(make_clip, tmp / "clip.webm", CLIP_S)
    short = await asyncio.to_thread(make_clip, tmp / "short.webm", 2.0)
    cp = FakeControlPlane()
    await cp.start()
    cp.media.update({"clip.webm": clip, "short.webm": short})
    long_page = cp.page_url("video.html?src=/media/clip.webm&loop=1&autoplay=1")
    agent = AgentProcess(cp, codec=codec, start_url=long_page)
    viewer = ClipViewer(cp, "watcher")
    pauses: list[float] = []
    plays: list[float] = []
    seeks: list[float] = []
    advance: list[float] = []
    noticed: list[float] = []
    loads: list[float] = []
    try:
        await agent.start(tmp)
        await cp.wait_type("ready", 60)
        await viewer.connect()
        await state(cp, lambda d: d.get("present") and not d["paused"], 20)
        await viewer.wait_frame(lambda f: True, 20)
        await asyncio.sleep(1.0)
        rng = random.Random(21)
        for _ in range(commands):
            # pause: when did the picture stop changing
            await asyncio.sleep(0.6 + rng.random() * 0.3)  # a random point of a frame
            t = await cmd(cp, "pause")
            await asyncio.sleep(1.0)
            seen = viewer.since(t - 0.2)
            changes = [b[0] for a, b in itertools.pairwise(seen) if moved(a[1], b[1])]
            later = [c for c in changes if c >= t]
            if seen and not any(moved(s[1], seen[-1][1]) for s in viewer.since(t + 0.5)):
                pauses.append(max(0.0, later[-1] - t) if later else 0.0)
            # play: the first frame that moves off the frozen picture
            frozen = seen[-1][1] if seen else 0.0
            t = await cmd(cp, "play")
            with contextlib.suppress(TimeoutError):
                plays.append(await viewer.until(lambda s, f=frozen: moved(s[1], f), 5, t) - t)
            loads.append(os.getloadavg()[0])
        for _ in range(commands):
            await asyncio.sleep(0.8)
            current = viewer.seen[-1][2]
            target = rng.choice(
                [s for s in range(1, int(CLIP_S) - 2) if s % len(PALETTE) != current]
            )
            t = await cmd(cp, "seek", target + 0.3)
            with contextlib.suppress(TimeoutError):
                colour = target % len(PALETTE)
                seeks.append(await viewer.until(lambda s, i=colour: s[2] == i, 5, t) - t)
            loads.append(os.getloadavg()[0])
        for _ in range(advances):
            await cp.after(
                "browser.navigate",
                {"url": cp.page_url("video.html?src=/media/short.webm")},
                lambda m: (
                    m["type"] == "media.state"
                    and m["data"].get("present")
                    and (m["data"]["duration"] or 9) < 3
                ),
                20,
            )
            ended = await cp.wait_type("media.ended", 20)
            t = ended["_t"]
            await cp.send("browser.navigate", {"url": cp.page_url("next.html")})
            with contextlib.suppress(TimeoutError):
                advance.append(await viewer.until(lambda s: is_colour(s[3], NEXT, 30), 10, t) - t)
            seen = [s for s in viewer.seen if t - 1.5 <= s[0] <= t]
            changes = [b[0] for a, b in itertools.pairwise(seen) if moved(a[1], b[1])]
            if changes:
                noticed.append(t - changes[-1])
            loads.append(os.getloadavg()[0])
    finally:
        await viewer.close()
        await agent.stop()
        await cp.stop()
    print(f"\nwatching together ({codec} 720p30, aiortc viewer, poll {0.25} s)")
    print("| measure | seen / sent | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|")
    print(row("pause → picture stops changing", pauses, commands))
    print(row("play → picture moves again", plays, commands))
    print(row("seek → target second's picture", seeks, commands))
    print(row("`media.ended` → next page's first frame", advance, advances))
    print(row("clip's last change → `media.ended`", noticed, advances))
    if loads:
        print(
            f"\nload average during the run: {min(loads):.1f} to {max(loads):.1f} (1 min), "
            f"{os.cpu_count()} cores"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commands", type=int, default=20, help="pauses (and plays), and seeks")
    ap.add_argument("--advances", type=int, default=10, help="queue advances")
    ap.add_argument("--codec", default="h264", choices=["h264", "vp8"])
    args = ap.parse_args()
    asyncio.run(run(args.commands, args.advances, args.codec))


if __name__ == "__main__":
    main()
