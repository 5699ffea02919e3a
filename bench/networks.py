"""Real networks: one good viewer and one weak one beside it, each weak link in turn
(docs/performance.md, "Real networks").

A real room (tests/support/agent.py: agent + Xvfb + Chromium + PulseAudio, H.264 1280x720@30,
the agent's default keyframe interval) shows a busy page (tests/agent/pages/busy.html: the whole
frame pans like a camera move and objects cross it). The viewers are headless Chromium
(`/usr/bin/chromium`, Playwright) on the test viewer page (tests/agent/pages/viewer.html, the
documented signalling through the harness's relay), each in a browser of its own: the good one on
this host, the weak one inside a network namespace (`ip netns exec`, tests/support/netns.py)
whose downlink is capped with `tc tbf` on the host's end of its link (this kernel has no netem)
and whose incoming UDP is dropped at random with `iptables -m statistic` in the namespace. Like
the room page, the viewers set `jitterBufferTarget = 0`, send the Auto quality cap (0x0B) when
`input` opens and their receiver statistics (0x0C) every second, and keep the agent's quality
status (0x83) when one comes.

Each case opens a fresh weak viewer on the link, lets it settle, then measures both viewers over
the window: frames shown per second (`requestVideoFrameCallback`), freezes (`freezeCount`,
`totalFreezesDuration`), resolution, kbit/s, packets lost, keyframes decoded, NACKs and PLIs
sent, and the agent's CPU and what its heartbeats say about rungs. The drop case starts
unlimited, caps the link to 1.2 Mbit/s for `--hold` seconds and lifts the cap: it reports the time
to a moving picture after the drop (the first moment from which the next second shows ≥ 10
frames) and the time back to 720p after the lift.

    .venv/bin/python -m bench.networks [--seconds 30] [--settle 3] [--cases 1,2,...]
        [--hold 15] [--no-write]

Needs root (namespaces, tc, iptables). Prints a Markdown table (with the load average) and
replaces its `### <label>` part of the "Real networks" section of docs/performance.md unless
`--no-write`. Every
namespace, veth, qdisc and iptables rule it makes is removed on the way out, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Playwright, async_playwright
from roomagent.config import AgentSettings

from tests.support.agent import AgentProcess, FakeControlPlane
from tests.support.netns import NetnsLink, drop_udp_in, netns_link, shape_downlink
from tests.support.web import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]

DOC = ROOT / "docs" / "performance.md"
SECTION = "## Real networks (`bench/networks.py`)"
CHROMIUM = "/usr/bin/chromium"
DROP_KBPS = 1200


@dataclass(frozen=True)
class Case:
    name: str
    kbps: int | None  # the weak viewer's downlink cap (None: none)
    loss: float  # share of its incoming UDP dropped at random
    drop: bool = False  # unlimited, then DROP_KBPS for --hold seconds, then unlimited again


CASES = [
    Case("unlimited, no loss (baseline)", None, 0.0),
    Case("600 kbit/s", 600, 0.0),
    Case("1.2 Mbit/s + 2 %", 1200, 0.02),
    Case("2.5 Mbit/s + 1 %", 2500, 0.01),
    Case("5 Mbit/s + 5 %", 5000, 0.05),
    Case("unlimited + 5 %", None, 0.05),
    Case("unlimited → 1.2 Mbit/s → unlimited", None, 0.0, drop=True),
]

# Installed in a viewer page (tests/agent/pages/viewer.html, which defines connectViewer): the
# room page's receiver behaviour (quality cap on open, receiver stats every second, the agent's
# quality status kept) and the counters the bench reads.
VIEWER_JS = """async ([conn, lowDelay]) => {
  const video = document.getElementById('v');
  const {pc, input} = await connectViewer(video, {conn, user: conn, lowDelay});
  const W = (window.__wp = {pc, shown: [], status: null});
  const onFrame = (now) => { W.shown.push(now); video.requestVideoFrameCallback(onFrame); };
  video.requestVideoFrameCallback(onFrame);
  const inbound = async () => {
    let v = null;
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') v = s;
    });
    return v;
  };
  input.binaryType = 'arraybuffer';
  input.onmessage = (e) => {
    if (!(e.data instanceof ArrayBuffer) || e.data.byteLength < 13) return;
    const d = new DataView(e.data);
    if (d.getUint8(0) !== 0x83) return;
    W.status = {width: d.getUint16(1, true), height: d.getUint16(3, true), fps: d.getUint8(5),
                flags: d.getUint8(6), kbps: d.getUint32(7, true), cap: d.getUint16(11, true)};
  };
  const u32 = (v) => Math.max(0, Math.min(0xffffffff, Math.round(v || 0)));
  let jb = {delay: 0, emitted: 0};
  const report = async () => {
    const s = await inbound();
    if (!s || input.readyState !== 'open') return;
    const b = new DataView(new ArrayBuffer(31));
    b.setUint8(0, 0x0c);
    [s.bytesReceived % 2 ** 32, s.packetsReceived, s.packetsLost, s.framesDecoded, s.framesDropped,
     s.freezeCount, 1000 * (s.totalFreezesDuration || 0)]
      .forEach((v, i) => b.setUint32(1 + 4 * i, u32(v), true));
    const dE = (s.jitterBufferEmittedCount || 0) - jb.emitted;
    const dD = (s.jitterBufferDelay || 0) - jb.delay;
    jb = {delay: s.jitterBufferDelay || 0, emitted: s.jitterBufferEmittedCount || 0};
    b.setUint16(29, Math.max(0, Math.min(0xffff, Math.round(dE > 0 ? 1000 * dD / dE : 0))), true);
    input.send(b.buffer);
  };
  const open = () => {
    input.send(new Uint8Array([0x0b, 0, 0]).buffer);  // Auto
    setInterval(report, 1000);
  };
  if (input.readyState === 'open') open(); else input.addEventListener('open', open);
  W.sample = async () => {
    const s = (await inbound()) || {};
    const out = {t: performance.now(), shown: W.shown.length, width: video.videoWidth,
                 height: video.videoHeight, status: W.status};
    for (const k of ['bytesReceived', 'packetsReceived', 'packetsLost', 'framesDecoded',
                     'keyFramesDecoded', 'framesDropped', 'freezeCount', 'totalFreezesDuration',
                     'nackCount', 'pliCount', 'firCount', 'frameWidth', 'frameHeight']) {
      out[k] = s[k] || 0;
    }
    return out;
  };
}"""


# The picture's height now and the frames shown in the last second.
RECENT_JS = """() => {
  const now = performance.now(), v = document.getElementById('v');
  const lastSecond = window.__wp.shown.filter((t) => t > now - 1000).length;
  return {height: v.videoHeight, lastSecond};
}"""


@dataclass
class Window:
    """One viewer over one measuring window (differences of its cumulative counters)."""

    seconds: float
    fps_shown: float
    freezes: int
    frozen_s: float
    width: int
    height: int
    kbps: float
    lost: int
    received: int
    keyframes: int
    nacks: int
    plis: int
    status: dict[str, Any] | None


@dataclass
class CaseResult:
    case: Case
    load: float
    weak: Window | None = None
    good: Window | None = None
    agent: dict[str, Any] = field(default_factory=dict)
    to_moving_s: float | None = None  # drop case: after the cap came down
    to_720_s: float | None = None  # drop case: after the cap was lifted
    moving_fps: float = 10.0  # drop case: frames a second that count as a moving picture
    error: str | None = None


def window(a: dict[str, Any], b: dict[str, Any]) -> Window:
    dt = max(0.001, (b["t"] - a["t"]) / 1000)

    def d(k: str) -> float:
        return float(b[k]) - float(a[k])

    return Window(
        seconds=dt,
        fps_shown=d("shown") / dt,
        freezes=int(d("freezeCount")),
        frozen_s=d("totalFreezesDuration"),
        width=int(b["frameWidth"] or b["width"]),
        height=int(b["frameHeight"] or b["height"]),
        kbps=d("bytesReceived") * 8 / dt / 1000,
        lost=int(d("packetsLost")),
        received=int(d("packetsReceived")),
        keyframes=int(d("keyFramesDecoded")),
        nacks=int(d("nackCount")),
        plis=int(d("pliCount") + d("firCount")),
        status=b.get("status"),
    )


def moving_again(shown: list[float], since: float, fps: float = 10.0) -> float | None:
    """Seconds from `since` (page clock, ms) to the first frame from which the next second shows
    at least `fps` frames: when the picture moves again. None: it never did."""
    after = [t for t in shown if t >= since]
    need = max(2, round(fps))
    for i, t in enumerate(after):
        if i + need - 1 < len(after) and after[i + need - 1] - t <= 1000:
            return (t - since) / 1000
    return None


def agent_summary(messages: list[dict[str, Any]], t0: float, t1: float) -> dict[str, Any]:
    """What the agent's heartbeats (1 s) said during [t0, t1] (monotonic): its CPU, keyframes
    sent and asked for, and, where the agent has an encoder ladder (heartbeat `rungs`, issue 18),
    the encode CPU of each rung while active, its viewers, the rung switches and each viewer's
    rung and estimate as last reported. Other fields about rungs or estimates are kept as they
    are."""
    beats = [m["data"] for m in messages if m["type"] == "heartbeat" and t0 <= m["_t"] <= t1]
    if not beats:
        return {}

    def delta(key: str) -> int:
        return int(beats[-1].get(key) or 0) - int(beats[0].get(key) or 0)

    out: dict[str, Any] = {
        "cpu_percent": round(statistics.mean(float(b.get("cpu_percent") or 0) for b in beats), 1),
        "keyframes": delta("keyframes"),
        "keyframe_requests": delta("keyframe_requests"),
    }
    cpu: dict[str, list[float]] = {}
    for beat in beats:
        for r in beat.get("rungs") or []:
            if isinstance(r, dict) and r.get("active"):
                cpu.setdefault(str(r.get("rung")), []).append(
                    float(r.get("encode_cpu_percent") or 0)
                )
    if cpu:
        out["rung_cpu_percent"] = {k: round(statistics.mean(v), 1) for k, v in cpu.items()}
    last = beats[-1]
    if isinstance(last.get("rungs"), list):
        out["rung_viewers"] = {
            str(r.get("rung")): r.get("viewers") for r in last["rungs"] if isinstance(r, dict)
        }
        out["rung_switches"] = delta("rung_switches")
    if isinstance(last.get("viewer_quality"), list):
        out["viewers"] = [
            {k: v.get(k) for k in ("conn", "rung", "estimate_kbps", "cut_by") if k in v}
            for v in last["viewer_quality"]
            if isinstance(v, dict)
        ]
    for key, value in last.items():
        if key not in out and key not in ("rungs", "viewer_quality"):
            if any(word in key for word in ("rung", "estimate", "ladder", "pacing")):
                out[key] = value
    return out


def rung_cpu(agent: dict[str, Any]) -> str:
    cpu = agent.get("rung_cpu_percent")
    if not cpu:
        return "-"
    return ", ".join(f"{name} {pct:.0f}" for name, pct in cpu.items())


@asynccontextmanager
async def viewer_page(
    browser: Browser, url: str, conn: str, low_delay: bool = True
) -> AsyncIterator[Page]:
    """A viewer page connected to the room; closing it closes its peer (the relay's socket).
    `low_delay`: the receiver asks for no playout buffering (`jitterBufferTarget = 0`)."""
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        await page.goto(url)
        await page.evaluate(VIEWER_JS, [conn, low_delay])
        yield page
    finally:
        await page.close()


async def sample(page: Page) -> dict[str, Any]:
    got: dict[str, Any] = await page.evaluate("() => window.__wp.sample()")
    return got


async def wait_playing(page: Page, within: float) -> None:
    await page.wait_for_function(
        "() => window.__wp && window.__wp.shown.length > 0", timeout=within * 1000, polling=100
    )


async def in_netns(pw: Playwright, link: NetnsLink, tmp: Path) -> Browser:
    """Chromium inside the namespace: Playwright starts a wrapper that enters it."""
    wrapper = tmp / f"chromium-{link.name}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {link.name} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    return await pw.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)


async def run_case(
    case: Case,
    *,
    cp: FakeControlPlane,
    good: Page,
    weak_browser: Browser,
    link: NetnsLink,
    settle: float,
    seconds: float,
    hold: float,
    low_delay: bool = True,
) -> CaseResult:
    result = CaseResult(case=case, load=os.getloadavg()[0])
    shape_downlink(link, case.kbps)
    if case.loss:
        drop_udp_in(link, case.loss)
    url = f"http://{link.host_ip}:{cp.port}/pages/viewer.html"
    try:
        async with viewer_page(
            weak_browser, url, f"weak-{uuid.uuid4().hex[:6]}", low_delay
        ) as weak:
            try:
                await wait_playing(weak, 30)
            except Exception:
                result.error = "the weak viewer showed no frame within 30 s"
            await asyncio.sleep(settle)
            a_weak, a_good, t0 = await sample(weak), await sample(good), time.monotonic()
            if case.drop:
                await asyncio.sleep(max(1.0, seconds / 3))
                before = window(a_weak, await sample(weak)).fps_shown
                # Moving = half the rate shown before the drop (at least 5 frames a second): on
                # a busy machine the room may not make 30 to begin with.
                moving = max(5.0, before / 2)
                dropped_at = float(await weak.evaluate("() => performance.now()"))
                shape_downlink(link, DROP_KBPS)
                await asyncio.sleep(hold)
                lifted_at = time.monotonic()
                shape_downlink(link, None)
                while time.monotonic() - lifted_at < max(20.0, seconds):
                    got = await weak.evaluate(RECENT_JS)
                    if got["height"] >= 720 and got["lastSecond"] >= moving:
                        result.to_720_s = time.monotonic() - lifted_at
                        break
                    await asyncio.sleep(0.25)
                shown: list[float] = await weak.evaluate("() => window.__wp.shown")
                result.to_moving_s = moving_again(shown, dropped_at, fps=moving)
                result.moving_fps = moving
            else:
                await asyncio.sleep(seconds)
            b_weak, b_good, t1 = await sample(weak), await sample(good), time.monotonic()
            result.weak, result.good = window(a_weak, b_weak), window(a_good, b_good)
            result.agent = agent_summary(cp.messages, t0, t1)
    finally:
        shape_downlink(link, None)
        if case.loss:
            drop_udp_in(link, case.loss, remove=True)
    return result


async def run(
    cases: list[Case],
    *,
    settle: float,
    seconds: float,
    hold: float,
    tmp: Path,
    low_delay: bool = True,
) -> list[CaseResult]:
    cp = FakeControlPlane(host="0.0.0.0")
    await cp.start()
    # the agent's default, unless this process was given another (an experiment)
    keyframe_s = os.environ.get(
        "WP_KEYFRAME_INTERVAL_S", AgentSettings.model_fields["keyframe_interval_s"].default
    )
    agent = AgentProcess(
        cp,
        start_url=cp.page_url("busy.html"),
        extra_env={"WP_KEYFRAME_INTERVAL_S": str(keyframe_s)},
    )
    await agent.start(tmp)
    results: list[CaseResult] = []
    name = f"wpnet{uuid.uuid4().hex[:4]}"
    try:
        await cp.wait_type("ready", 60)
        with netns_link(name=name, link_net="10.250.94.") as link:
            async with async_playwright() as pw:
                host_browser = await pw.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS
                )
                weak_browser = await in_netns(pw, link, tmp)
                try:
                    url = cp.page_url("viewer.html")
                    async with viewer_page(host_browser, url, "good") as good:
                        await wait_playing(good, 30)
                        for case in cases:
                            print(f"  {case.name} …", file=sys.stderr, flush=True)
                            r = await run_case(
                                case,
                                cp=cp,
                                good=good,
                                weak_browser=weak_browser,
                                link=link,
                                settle=settle,
                                seconds=seconds,
                                hold=hold,
                                low_delay=low_delay,
                            )
                            print(f"    {brief(r)}", file=sys.stderr, flush=True)
                            results.append(r)
                finally:
                    await weak_browser.close()
                    await host_browser.close()
    except Exception as exc:
        raise SystemExit(f"bench/networks.py: {exc!r}\nagent log:\n{agent.log_tail()}") from exc
    finally:
        await agent.stop()
        await cp.stop()
    return results


def brief(r: CaseResult) -> str:
    if r.weak is None or r.good is None:
        return r.error or "no figures"
    return (
        f"weak {r.weak.fps_shown:.1f} fps {r.weak.height}p {r.weak.kbps:.0f} kbit/s "
        f"frozen {r.weak.frozen_s:.1f} s; good {r.good.fps_shown:.1f} fps "
        f"{r.good.keyframes} keyframes; agent {r.agent.get('cpu_percent', 0):.0f} %"
    )


def rung(w: Window) -> str:
    s = w.status
    if not s:
        return f"{w.height}p"
    why = " (link)" if s["flags"] & 1 else " (cap)" if s["flags"] & 2 else ""
    return f"{w.height}p; rung {s['height']}p{s['fps']}{why}, est. {s['kbps']} kbit/s"


INTRO = """One good Chromium viewer on this host and, for each case in turn, one weak Chromium
viewer in a network namespace (downlink capped with `tc tbf`, incoming UDP dropped at random
with `iptables -m statistic`), both watching a busy page (a panning detailed scene with objects
crossing it: `tests/agent/pages/busy.html`) from a real room (agent + Xvfb + Chromium, H.264
720p30, the agent's default keyframe interval).

    sudo .venv/bin/python -m bench.networks [--seconds 30] [--settle 3] [--label after]

Each run replaces its own `### <label>` part of this section (`--label`, default "before"), so
the figures before and after a change stay side by side.
"""


def commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    )
    return out.stdout.strip() or "?"


def report(results: list[CaseResult], seconds: float, settle: float, label: str = "before") -> str:
    """The run's `### label` part of the section: the table and its notes."""
    today = datetime.date.today().isoformat()
    loads = [r.load for r in results]
    lines = [
        f"### {label}",
        "",
        f"Measured {today} at commit {commit()} over {seconds:.0f} s after a {settle:.0f} s"
        f" settle, on the 2-core development container, load average {min(loads):.1f} to"
        f" {max(loads):.1f} at the start of the cases (other work shared the box).",
        "",
        "| weak viewer's link | weak: frames shown/s | frozen s (freezes) | resolution "
        "| kbit/s | packets lost / received | keyframes | NACKs | PLIs "
        "| good: frames shown/s | good: resolution | good: keyframes | agent CPU % "
        "| encode CPU % per active rung | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        w, g = r.weak, r.good
        if w is None or g is None:
            lines.append(f"| {r.case.name} | {r.error or 'failed'} |" + " |" * 14)
            continue
        lines.append(
            f"| {r.case.name} | {w.fps_shown:.1f} | {w.frozen_s:.1f} ({w.freezes}) | {rung(w)} "
            f"| {w.kbps:.0f} | {w.lost} / {w.received} | {w.keyframes} | {w.nacks} | {w.plis} "
            f"| {g.fps_shown:.1f} | {g.height}p | {g.keyframes} "
            f"| {r.agent.get('cpu_percent', float('nan')):.0f} | {rung_cpu(r.agent)} "
            f"| {r.load:.1f} |"
        )
    for r in results:
        if r.case.drop:
            moving = "never" if r.to_moving_s is None else f"{r.to_moving_s:.1f} s"
            back = "not within the wait" if r.to_720_s is None else f"{r.to_720_s:.1f} s"
            lines += [
                "",
                f"Cap drop ({r.case.name}): a moving picture (≥ {r.moving_fps:.0f} frames in the"
                f" next second, half the rate before the drop) {moving} after the cap came down;"
                f" a moving 720p picture {back} after it was lifted.",
            ]
    extra = {r.case.name: r.agent for r in results if set(r.agent) - {"cpu_percent"}}
    if extra:
        lines += [
            "",
            "The agent's heartbeats over each window (keyframes sent, requests, rungs):",
            "",
        ]
        lines += [
            f"- {name}: `{json.dumps(fields, sort_keys=True)}`" for name, fields in extra.items()
        ]
    lines += [
        "",
        "Frames shown/s are `requestVideoFrameCallback` calls; frozen is `totalFreezesDuration`",
        "(Chromium's freeze: a frame later than max(3 x the mean interval, mean + 150 ms));",
        "keyframes are `keyFramesDecoded`, NACKs/PLIs the viewer's `nackCount`/`pliCount`.",
        "A viewer that shows no frame at all counts no freeze: read frames shown/s first.",
    ]
    return "\n".join(lines) + "\n"


def replace_part(text: str, heading: str, body: str, end_marks: tuple[str, ...]) -> str:
    """`text` with the part from `heading` up to the first of `end_marks` replaced by `body`
    (appended when there is no such part)."""
    start = text.find(heading + "\n")
    if start < 0:
        return text.rstrip("\n") + "\n\n" + body
    ends = [i for m in end_marks if (i := text.find(m, start + len(heading))) >= 0]
    rest = text[min(ends) + 1 :] if ends else ""
    return text[:start] + body + ("\n" + rest if rest else "")


def write_doc(part: str, label: str) -> None:
    """Puts this run's `### label` part into the section (made with its intro if missing)."""
    text = DOC.read_text()
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + INTRO + "\n" + part
    else:
        end = text.find("\n## ", start + len(SECTION))
        section = text[start : end + 1] if end >= 0 else text[start:]
        section = replace_part(section, f"### {label}", part, ("\n### ", "\n## "))
        text = text[:start] + section.rstrip("\n") + "\n" + (text[end:] if end >= 0 else "")
    DOC.write_text(text)


def why_not_here() -> str | None:
    """Why the bench cannot run on this machine (None: it can)."""
    if os.geteuid() != 0:
        return "network namespaces, tc and iptables need root"
    for tool in ("ip", "tc", "iptables", "Xvfb", CHROMIUM):
        if not shutil.which(tool):
            return f"{tool} is not installed"
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30, help="measuring window per case")
    # the targets are "30 s after a 5 s settle"
    ap.add_argument("--settle", type=float, default=5, help="seconds before measuring")
    ap.add_argument("--hold", type=float, default=15, help="drop case: seconds at 1.2 Mbit/s")
    ap.add_argument("--cases", default="", help="1-based case numbers, comma list (all)")
    ap.add_argument("--label", default="before", help="this run's part of the doc's section")
    ap.add_argument("--no-write", action="store_true", help="print only, leave the doc alone")
    ap.add_argument("--keep-logs", type=Path, help="copy the agent's log into this directory")
    ap.add_argument(
        "--playout",
        choices=("low", "default"),
        default="low",
        help="the weak viewer's playout: no buffering (jitterBufferTarget 0) or Chromium's own",
    )
    args = ap.parse_args()
    if reason := why_not_here():
        raise SystemExit(f"bench/networks.py: {reason}")
    picked = [CASES[int(i) - 1] for i in args.cases.split(",") if i] or CASES
    tmp = Path(tempfile.mkdtemp(prefix="wp-bench-networks-"))
    results = asyncio.run(
        run(
            picked,
            settle=args.settle,
            seconds=args.seconds,
            hold=args.hold,
            tmp=tmp,
            low_delay=args.playout == "low",
        )
    )
    part = report(results, args.seconds, args.settle, args.label)
    print(part)
    if not args.no_write:
        write_doc(part, args.label)
        print(f"(written to {DOC.relative_to(ROOT)})", file=sys.stderr)
    if args.keep_logs is not None:
        args.keep_logs.mkdir(parents=True, exist_ok=True)
        for log in tmp.glob("agent-*.log"):
            shutil.copy(log, args.keep_logs / log.name)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
