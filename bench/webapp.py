"""The web app through its real pages: create-room click → first frame (cold and with a warm
pool), join link → first frame, click-to-photon through the room page's own input path, and the
room route's JavaScript (gzip).

A real control plane (`watchparty serve`, embedded storage, local rooms: Xvfb + Chromium +
agent per room) serves the built app (`frontend/dist`); two signed-in users in headless
Chromium (Playwright, `/usr/bin/chromium`) create and join rooms whose browser shows
`bench/pages/photon.html` (the whole page changes colour on every mousedown). Every time is
taken inside the viewer's page with `performance.now()`: the Create room click (capture-phase
listener), navigation start (`performance.timeOrigin`) for the join link, a capture-phase
`pointerdown` on the stream viewport for click-to-photon (Playwright's `page.mouse.click` on
the video, so the room page's own DOM input path sends the click), and the first frame
`requestVideoFrameCallback` reports on `<video aria-label="Shared browser">`.

    .venv/bin/python -m bench.webapp [--runs 5] [--clicks 30] [--no-write]

Prints a Markdown table and replaces the "Web app" section of docs/performance.md (unless
`--no-write`). Exits non-zero with the reason when a page flow breaks.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gzip
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, Response, async_playwright

from tests.support.backends import base_env
from tests.support.browser import PASSWORD, register, stream_point
from tests.support.processes import kill_rooms
from tests.support.servers import Server, run_server, static_files
from tests.support.smtp import free_port
from tests.support.web import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "frontend" / "dist"
PAGES = Path(__file__).resolve().parent / "pages"
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Web app (`bench/webapp.py`)"
CLICK_AT = (0.5, 0.5)  # where the holder clicks, fractions of the room's screen
SAMPLE_AT = (0.3, 0.7)  # the pixel read off every frame (away from any cursor)
TARGETS = {
    "cold": 1.5,
    "warm": 1.0,
    "join": 0.5,
    "photon_p50": 60.0,
    "photon_p95": 100.0,
    "js_kb": 250.0,
}


class BenchError(Exception):
    """A page flow broke: the bench stops and says why."""


# Installed in every page of both users before the app's scripts run. Marks are
# performance.now() values (ms since the document's navigation start); the first of each wins.
INIT_JS = """(() => {
  const W = (window.__wp = { marks: {} });
  const mark = (k, t) => {
    if (W.marks[k] === undefined) W.marks[k] = t === undefined ? performance.now() : t;
  };
  W.reset = () => { W.marks = {}; };
  document.addEventListener('click', (e) => {
    const b = e.target instanceof Element ? e.target.closest('button') : null;
    if (b && b.textContent.trim() === 'Create room') mark('click');
  }, true);
  const arm = (v) => {
    if (v.__wpArmed) return;
    v.__wpArmed = true;
    v.requestVideoFrameCallback((now, meta) => {
      mark('frame', now);
      mark('frame_expected', meta.expectedDisplayTime);
    });
  };
  new MutationObserver(() => {
    for (const v of document.querySelectorAll('video[aria-label="Shared browser"]')) arm(v);
  }).observe(document, { childList: true, subtree: true });
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(...args) {
      super(...args);
      mark('ws_start');
      this.addEventListener('open', () => mark('ws_open'));
      this.addEventListener('message', (e) => {
        if (typeof e.data === 'string' && e.data.includes('"room.state"')) mark('room_state');
      });
    }
  };
  const P = RTCPeerConnection.prototype, sld = P.setLocalDescription, srd = P.setRemoteDescription;
  P.setLocalDescription = function (...a) { mark('offer'); return sld.apply(this, a); };
  P.setRemoteDescription = function (...a) { mark('answer'); return srd.apply(this, a); };
})()"""

# Resource timing of the REST calls and scripts, relative to navigation start.
RESOURCES_JS = """() => performance.getEntriesByType('resource').map((e) => ({
  name: e.name, type: e.initiatorType, start: e.startTime, end: e.responseEnd }))"""

# Click-to-photon: a capture-phase pointerdown on the viewport stamps the click; every presented
# frame's pixel at (sx, sy) is read; the first frame in the wanted colour after a stamp ends it.
PHOTON_JS = """([sx, sy]) => {
  const v = document.querySelector('video[aria-label="Shared browser"]');
  const area = document.querySelector('[aria-label="Drive the browser"]');
  const c = document.createElement('canvas');
  c.width = 1; c.height = 1;
  const g = c.getContext('2d', { willReadFrequently: true });
  const P = (window.__ph = { colour: null, down: null, want: null, lat: [] });
  const colourOf = ([r, gr, b]) => (r > 180 && gr < 80 && b < 80) ? 'red'
    : (b > 180 && r < 80 && gr < 80) ? 'blue' : null;
  area.addEventListener('pointerdown', () => { P.down = performance.now(); }, true);
  const onFrame = (now) => {
    g.drawImage(v, Math.round(sx * v.videoWidth), Math.round(sy * v.videoHeight), 1, 1, 0, 0, 1, 1);
    P.colour = colourOf(g.getImageData(0, 0, 1, 1).data);
    if (P.down !== null && P.want !== null && P.colour === P.want) {
      P.lat.push(now - P.down);
      P.down = null; P.want = null;
    }
    v.requestVideoFrameCallback(onFrame);
  };
  v.requestVideoFrameCallback(onFrame);
}"""


@dataclass
class Sample:
    total: float  # ms, start → first frame
    stages: dict[str, float] = field(default_factory=dict)  # ms since start, per stage


@dataclass
class Results:
    create: dict[str, list[Sample]] = field(default_factory=lambda: {"cold": [], "warm": []})
    join: list[Sample] = field(default_factory=list)
    photon: list[float] = field(default_factory=list)
    photon_sent: int = 0
    js: list[tuple[str, int, int]] = field(default_factory=list)  # name, raw, gzip bytes
    load: list[float] = field(default_factory=list)


@contextmanager
def deployment(
    warm: int, tmp: Path, web_dir: Path = DIST
) -> Iterator[tuple[Server, dict[str, Any]]]:
    port = free_port()
    dep = f"bench-web-{uuid.uuid4().hex[:8]}"
    env = base_env(
        DATA_DIR=tmp / f"data-{warm}",
        ROOM_RUNTIME="local",
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        DEPLOYMENT_ID=dep,
        ROOM_PRESENCE_GRACE_SECONDS="0.5",
        ROOM_CREATES_PER_HOUR="100",
        ROOM_WARM_POOL=str(warm),
        WEB_DIR=web_dir,
    )
    try:
        with run_server(env, log_dir=tmp, migrate=True, port=port) as server:
            yield server, env
    finally:
        kill_rooms(dep)


def stages(marks: dict[str, float], res: list[dict[str, Any]], t0: float) -> dict[str, float]:
    out: dict[str, float] = {}

    def put(key: str, t: float | None) -> None:
        if t is not None and t >= t0:
            out[key] = t - t0

    def rest(pattern: str) -> float | None:
        hits = [r["end"] for r in res if re.search(pattern, r["name"]) and r["start"] >= t0]
        return min(hits) if hits else None

    scripts = [r["end"] for r in res if r["type"] == "script" or r["name"].endswith(".js")]
    put("js", max(scripts) if scripts and t0 == 0 else None)
    put("rest", rest(r"/api/rooms(/[^/]+/join)?$"))
    for k in ("ws_open", "room_state", "offer", "answer", "frame"):
        put(k, marks.get(k))
    return out


async def wait_mark(page: Page, key: str, within: float, what: str) -> dict[str, float]:
    try:
        await page.wait_for_function(
            f"() => window.__wp && window.__wp.marks['{key}'] !== undefined",
            timeout=within * 1000,
            polling=50,
        )
    except Exception as exc:
        alert = await page.locator("[role=alert]").all_inner_texts()
        raise BenchError(f"{what}: no '{key}' within {within:.0f} s at {page.url} {alert}") from exc
    marks: dict[str, float] = await page.evaluate("() => window.__wp.marks")
    return marks


async def new_user(browser: Browser, base: str, name: str) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(viewport={"width": 1440, "height": 900})
    await ctx.add_init_script(script=INIT_JS)
    page = await ctx.new_page()
    try:
        await register(page, base, name)
    except Exception as exc:
        raise BenchError(f"registering {name} failed at {page.url}: {exc}") from exc
    return ctx, page


async def create_room(page: Page, base: str, start_url: str) -> tuple[str, Sample]:
    await page.goto(f"{base}/dashboard")
    await page.get_by_label("Room title").fill("Bench night")
    await page.get_by_label("Start page").fill(start_url)
    await page.evaluate("() => window.__wp.reset()")
    await page.get_by_role("button", name="Create room").click()
    marks = await wait_mark(page, "frame", 60, "create room")
    if "click" not in marks:
        raise BenchError("the Create room click was not seen by the page")
    code = page.url.rsplit("/", 1)[-1]
    if "/room/" not in page.url:
        raise BenchError(f"after Create room the page is {page.url}, not a room")
    res = await page.evaluate(RESOURCES_JS)
    t0 = marks["click"]
    return code, Sample(marks["frame"] - t0, stages(marks, res, t0))


async def join_room(page: Page, base: str, code: str, js: list[Response] | None) -> Sample:
    def keep(r: Response) -> None:
        if js is not None and r.request.resource_type == "script":
            js.append(r)

    page.on("response", keep)
    try:
        await page.goto(f"{base}/room/{code}")
        marks = await wait_mark(page, "frame", 30, "join link")
    finally:
        page.remove_listener("response", keep)
    res = await page.evaluate(RESOURCES_JS)
    return Sample(marks["frame"], stages(marks, res, 0.0))


async def end_room(page: Page) -> None:
    try:
        await page.get_by_role("button", name="End room").click(timeout=10_000)
        await page.get_by_role("button", name="End the room").click(timeout=10_000)
        await page.get_by_text("This room has ended").first.wait_for(timeout=15_000)
    except Exception as exc:
        raise BenchError(f"ending the room failed at {page.url}: {exc}") from exc


async def photon(page: Page, clicks: int, out: Results) -> None:
    """The holder clicks the stream; each click turns the room's page the other colour."""
    try:
        await page.get_by_text("You have the remote").first.wait_for(timeout=15_000)
    except Exception as exc:
        raise BenchError("the room's creator does not hold the remote") from exc
    await page.evaluate(PHOTON_JS, list(SAMPLE_AT))
    x, y = await stream_point(page, *CLICK_AT)
    seen = 0
    for i in range(clicks):
        try:
            await page.wait_for_function("() => window.__ph.colour !== null", timeout=10_000)
        except Exception as exc:
            raise BenchError("the stream does not show the photon page (red or blue)") from exc
        await page.evaluate(
            "() => { window.__ph.want = window.__ph.colour === 'red' ? 'blue' : 'red';"
            " window.__ph.down = null; }"
        )
        await asyncio.sleep(random.uniform(0, 0.1))  # a random phase against the capture clock
        await page.mouse.click(x, y)
        out.photon_sent += 1
        try:
            await page.wait_for_function(
                f"() => window.__ph.lat.length > {seen}", timeout=5_000, polling=20
            )
            seen += 1
        except Exception:
            print(f"  click {i + 1}: no changed frame within 5 s", file=sys.stderr)
            # make sure the next click starts from a settled colour
            await asyncio.sleep(1)
        await asyncio.sleep(0.3)
    out.photon = list(await page.evaluate("() => window.__ph.lat"))
    if not out.photon:
        raise BenchError("no click showed on the stream")


def admin_token(server: Server, env: dict[str, Any]) -> str:
    email = f"admin{uuid.uuid4().hex[:6]}@example.com"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "controlplane.cli", "createsuperuser"),
            *("--email", email, "--username", email.split("@")[0], "--password", PASSWORD),
        ],
        env={**os.environ, **{k: str(v) for k, v in env.items()}},
        capture_output=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise BenchError(f"createsuperuser failed: {proc.stderr.decode()[-500:]}")
    r = httpx.post(
        f"{server.url}/api/auth/login", data={"username": email, "password": PASSWORD}, timeout=10
    )
    if r.status_code != 200:
        raise BenchError(f"admin login failed: {r.status_code} {r.text[:200]}")
    return str(r.json()["access_token"])


async def pool_ready(server: Server, token: str, within: float = 90) -> None:
    deadline = time.monotonic() + within
    got: Any = None
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as client:
        while time.monotonic() < deadline:
            r = await client.get(f"{server.url}/api/admin/pool", timeout=5)
            got = r.json()
            if r.status_code == 200 and got["ready"] >= 1:
                return
            await asyncio.sleep(0.25)
    raise BenchError(f"the warm pool had no ready browser within {within:.0f} s: {got}")


async def phase(
    browser: Browser, tmp: Path, pages: str, warm: bool, runs: int, clicks: int, out: Results
) -> None:
    kind = "warm" if warm else "cold"
    with deployment(1 if warm else 0, tmp) as (server, env):
        tag = uuid.uuid4().hex[:6]
        host_ctx, host = await new_user(browser, server.url, f"host{kind}{tag}")
        guest_ctx, guest = await new_user(browser, server.url, f"guest{kind}{tag}")
        token = admin_token(server, env) if warm else ""
        try:
            for i in range(runs):
                if warm:
                    await pool_ready(server, token)
                else:
                    await asyncio.sleep(2)  # let the previous room's processes go
                out.load.append(os.getloadavg()[0])
                code, made = await create_room(host, server.url, f"{pages}/photon.html")
                out.create[kind].append(made)
                js: list[Response] | None = [] if not out.js and i == 0 else None
                joined = await join_room(guest, server.url, code, js)
                out.join.append(joined)
                if js:
                    for r in js:
                        body = await r.body()
                        name = r.url.rsplit("/", 1)[-1]
                        out.js.append((name, len(body), len(gzip.compress(body, 9))))
                await guest.goto("about:blank")
                print(
                    f"  {kind} {i + 1}/{runs}: create → frame {made.total:.0f} ms,"
                    f" join → frame {joined.total:.0f} ms",
                    file=sys.stderr,
                )
                if warm and i == runs - 1 and clicks:
                    await photon(host, clicks, out)
                await end_room(host)
        finally:
            await host_ctx.close()
            await guest_ctx.close()


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(r: Results, runs: int) -> str:
    today = datetime.date.today().isoformat()
    load = f"{min(r.load):.1f} to {max(r.load):.1f}" if r.load else "?"
    lines = [
        SECTION,
        "",
        "The real pages end to end: `watchparty serve` (embedded, local rooms) serving the built",
        "app, two signed-in users in headless Chromium (Playwright, fake media), the room's",
        "browser showing `bench/pages/photon.html`. Times are taken inside the viewer's page",
        "(`performance.now()`): the Create room click (capture-phase listener) or navigation start",
        "(join link) → the first frame `requestVideoFrameCallback` reports on the stream's",
        "`<video>`; click-to-photon = `pointerdown` on the stream viewport (a real mouse click",
        "through the room page's own input path) → the first frame whose pixel shows the page's",
        "new colour. Cold = `ROOM_WARM_POOL=0`; warm = `ROOM_WARM_POOL=1`, each run after the",
        "pool has a ready browser again.",
        "",
        "    .venv/bin/python -m bench.webapp [--runs 5] [--clicks 30] [--no-write]",
        "",
        f"Measured {today} on the 2-core development container, load average {load} at the",
        "start of the runs:",
        "",
        "| measure | samples | median | p95 | target | |",
        "|---|---|---|---|---|---|",
    ]

    for kind in ("cold", "warm"):
        xs = [s.total / 1000 for s in r.create[kind]]
        if xs:
            med, p95, tgt = statistics.median(xs), pct(xs, 0.95), TARGETS[kind]
            lines.append(
                f"| create click → first frame, {kind} | {len(xs)} | {med:.2f} s | {p95:.2f} s "
                f"| ≤ {tgt:.1f} s | {verdict(med <= tgt)} |"
            )
    xs = [s.total / 1000 for s in r.join]
    if xs:
        med, p95 = statistics.median(xs), pct(xs, 0.95)
        lines.append(
            f"| join link → first frame | {len(xs)} | {med:.2f} s | {p95:.2f} s "
            f"| ≤ {TARGETS['join']:.1f} s | {verdict(med <= TARGETS['join'])} |"
        )
    if r.photon:
        p50, p95 = statistics.median(r.photon), pct(r.photon, 0.95)
        ok = p50 <= TARGETS["photon_p50"] and p95 <= TARGETS["photon_p95"]
        lines.append(
            f"| click-to-photon (holder, room page) | {len(r.photon)} / {r.photon_sent} clicks "
            f"| {p50:.0f} ms | {p95:.0f} ms | p50 ≤ 60 / p95 ≤ 100 ms | {verdict(ok)} |"
        )
    if r.js:
        kb = sum(g for _, _, g in r.js) / 1024
        raw = sum(n for _, n, _ in r.js) / 1024
        files = ", ".join(f"`{n}` {g / 1024:.0f}" for n, _, g in r.js)
        ok = kb <= TARGETS["js_kb"]
        lines.append(
            f"| room route JavaScript, gzip -9 | {len(r.js)} files | {kb:.0f} KB "
            f"({raw:.0f} KB raw) | | ≤ {TARGETS['js_kb']:.0f} KB | {verdict(ok)} |"
        )
        lines += ["", f"JavaScript the room page loaded (KB gzip): {files}."]
    lines += ["", "Met = the median within its target (click-to-photon: p50 and p95 both)."]
    heads = {
        "js": "scripts loaded",
        "rest": "REST create / join",
        "ws_open": "socket open",
        "room_state": "`room.state`",
        "offer": "offer",
        "answer": "answer set",
        "frame": "first frame",
    }
    flows = [(f"create, {k}", r.create[k]) for k in ("cold", "warm")] + [("join link", r.join)]
    lines += [
        "",
        "Stages (median ms after the click / navigation start; `offer` is the stream peer's",
        "`setLocalDescription`, `answer set` its `setRemoteDescription`):",
        "",
        "| flow | " + " | ".join(heads.values()) + " |",
        "|---|" + "---|" * len(heads),
    ]
    for name, samples in flows:
        if not samples:
            continue
        cells = []
        for k in heads:
            vals = [s.stages[k] for s in samples if k in s.stages]
            cells.append(f"{statistics.median(vals):.0f}" if vals else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The viewers' Chromium, the room's Chromium + Xvfb + agent and the control plane share",
        "the same 2 cores; read these figures against the load average above.",
    ]
    return "\n".join(lines) + "\n"


def write_doc(section: str) -> None:
    text = DOC.read_text()
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        rest = text[nxt + 1 :] if nxt >= 0 else ""
        text = text[:start] + section + ("\n" + rest if rest else "")
    DOC.write_text(text)


async def run(runs: int, clicks: int, modes: list[str]) -> Results:
    out = Results()
    tmp = Path(tempfile.mkdtemp(prefix="wp-bench-webapp-"))
    try:
        with static_files(PAGES) as pages:
            async with async_playwright() as p:
                browser = await p.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                try:
                    for mode in modes:
                        await phase(browser, tmp, pages, mode == "warm", runs, clicks, out)
                finally:
                    await browser.close()
    except BenchError as exc:
        raise BenchError(f"{exc} (server logs kept in {tmp})") from exc
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="rooms created per mode")
    ap.add_argument("--clicks", type=int, default=30, help="click-to-photon clicks (0: skip)")
    ap.add_argument("--modes", default="cold,warm", help="cold, warm or both")
    ap.add_argument("--no-write", action="store_true", help="print only, leave the doc alone")
    ap.add_argument("--timeout", type=float, default=900, help="the whole run, seconds")
    args = ap.parse_args()
    if not (DIST / "index.html").is_file():
        raise SystemExit("frontend/dist is not built: run `make web`")
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= {"cold", "warm"}:
        raise SystemExit(f"unknown mode in {args.modes!r}")
    try:
        out = asyncio.run(asyncio.wait_for(run(args.runs, args.clicks, modes), args.timeout))
    except BenchError as exc:
        raise SystemExit(f"bench/webapp.py: {exc}") from None
    except TimeoutError:
        raise SystemExit(f"bench/webapp.py: not done within {args.timeout:.0f} s") from None
    section = report(out, args.runs)
    print(section)
    if not args.no_write:
        write_doc(section)
        print(f"(written to {DOC.relative_to(ROOT)})", file=sys.stderr)


if __name__ == "__main__":
    main()
