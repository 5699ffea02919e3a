# ruff: noqa: ASYNC109, ASYNC110
"""Room agent streaming benchmark (figures: docs/performance.md): encode once vs per viewer.

Starts a real agent (Xvfb + Chromium + PulseAudio, moving canvas page) and, for 1, 3 and 10
viewers, prints delivered fps, encoder fps and time per frame, agent CPU, agent CPU per extra
viewer and input-to-photon (holder click -> changed frame decoded at that viewer) p50/p95; once
with the shared encoder (the product) and once with the baseline where every viewer's aiortc
sender encodes on its own (``WP_ENCODE_MODE=per_viewer``, aiortc's default path).

Measuring on the same small machine as the agent: N-1 of the N viewers run in a separate process
and do not decode (they count the complete frames aiortc's jitter buffer hands to the decoder,
i.e. frames delivered); one viewer in this process decodes every frame and is the holder whose
clicks are timed. The load average is printed with every row, since other work on the machine
moves these figures.

    .venv/bin/python -m bench.agent_stream [--codec h264|vp8] [--viewers 1,3,10]
        [--modes shared,per_viewer] [--seconds 8] [--clicks 20] [--aiortc-jitter]
        [--static] [--capture damage|clock] [--quality latency|balanced|quality]
        [--ladder SPEC] [--no-pacing]

The holder completes frames on the RTP marker bit, as browsers do (aiortc waits for the next
frame's first packet, one more frame interval); ``--aiortc-jitter`` measures aiortc's way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from tests.support.agent import AgentProcess, Cdp, FakeControlPlane, Viewer
from tests.support.frames import is_colour, pixel

RED, BLUE = (255, 0, 0), (0, 0, 255)
PANEL = (1050, 530)


# -- the holder's jitter buffer -------------------------------------------------------------------
def _install_marker_jitter_buffer() -> None:
    """Complete video frames on their RTP marker bit, as browsers do.

    aiortc's video jitter buffer only hands a frame to the decoder when the first packet of the
    *next* frame arrives, which adds a whole frame interval (33 ms at 30 fps) to every frame at an
    aiortc viewer and that a browser viewer does not pay. The holder measures input-to-photon as
    a browser would see it; --aiortc-jitter keeps aiortc's own behaviour."""
    from aiortc import jitterbuffer, rtcrtpreceiver

    class MarkerJitterBuffer(jitterbuffer.JitterBuffer):
        def _remove_frame(self, sequence_number: int) -> jitterbuffer.JitterFrame | None:
            if not self._is_video:
                return super()._remove_frame(sequence_number)
            assert self._origin is not None
            packets: list[Any] = []
            for count in range(self.capacity):
                packet = self._packets[(self._origin + count) % self.capacity]
                if packet is None:
                    return None
                if packets and packet.timestamp != packets[0].timestamp:
                    count -= 1  # a frame whose marker was lost: complete at the next frame
                    break
                packets.append(packet)
                if packet.marker:
                    break
            else:
                return None
            frame = jitterbuffer.JitterFrame(
                data=b"".join(p._data for p in packets), timestamp=packets[0].timestamp
            )
            self.remove(count + 1)
            return frame

    rtcrtpreceiver.JitterBuffer = MarkerJitterBuffer  # type: ignore[misc]


# -- the viewer process: N aiortc peers that receive but do not decode ---------------------------
def _install_counting_decoder() -> None:
    """Replace aiortc's decoders in this process with one that only counts frames."""
    import av
    from aiortc import rtcrtpreceiver

    blank = av.VideoFrame(16, 16, "yuv420p")

    class Counting:
        def decode(self, encoded_frame: Any) -> list[av.VideoFrame]:
            return [blank]

    original = rtcrtpreceiver.get_decoder

    def get_decoder(codec: Any) -> Any:
        return Counting() if codec.mimeType.startswith("video/") else original(codec)

    rtcrtpreceiver.get_decoder = get_decoder


async def _viewer_process(url: str) -> None:
    """Reads commands on stdin: ``connect N``, ``measure SECONDS``, ``quit``; answers JSON."""
    _install_counting_decoder()
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError
    from websockets.asyncio.client import connect

    peers: list[tuple[RTCPeerConnection, list[float]]] = []
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def consume(track: Any, times: list[float]) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                await track.recv()
                if track.kind == "video":
                    times.append(time.monotonic())

    conns: list[str] = []
    sockets: list[Any] = []

    async def one(i: int) -> tuple[RTCPeerConnection, list[float]]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        times: list[float] = []
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        pc.createDataChannel("pointer", ordered=False, maxRetransmits=0)
        pc.createDataChannel("input")
        pc.on("track", lambda t: asyncio.ensure_future(consume(t, times)))
        await pc.setLocalDescription(await pc.createOffer())
        # The relay socket stays open for the peer's life: closing it closes the peer (as a
        # viewer's room socket does in the product).
        ws = await connect(f"{url}/viewer", max_size=2**24)
        sockets.append(ws)
        conn = f"stub-{os.getpid()}-{i}-{time.monotonic_ns()}"
        conns.append(conn)
        await ws.send(json.dumps({"conn": conn, "user": conn, "sdp": pc.localDescription.sdp}))
        answer = json.loads(await ws.recv())
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        return pc, times

    async def close_all() -> None:
        for pc, _t in peers:
            await pc.close()
        for ws in sockets:
            await ws.close()
        sockets.clear()

    while line := (await reader.readline()).decode().strip():
        cmd, _, arg = line.partition(" ")
        if cmd == "connect":
            await close_all()
            conns.clear()
            peers = list(await asyncio.gather(*(one(i) for i in range(int(arg)))))
            deadline = time.monotonic() + 20
            while not all(t for _pc, t in peers) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            ok = sum(1 for _pc, t in peers if t)
            print(json.dumps({"connected": ok, "conns": conns}), flush=True)
        elif cmd == "measure":
            t0 = time.monotonic()
            await asyncio.sleep(float(arg))
            t1 = time.monotonic()
            fps = [sum(1 for x in t if t0 <= x <= t1) / (t1 - t0) for _pc, t in peers]
            print(json.dumps({"fps": fps}), flush=True)
        elif cmd == "quit":
            break
    await close_all()


class ViewerProcess:
    def __init__(self, url: str) -> None:
        self.url = url
        self.proc: asyncio.subprocess.Process | None = None
        self.conns: list[str] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--viewer-process",
            self.url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )

    async def ask(self, cmd: str, timeout: float = 60) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(cmd.encode() + b"\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        return dict(json.loads(line))

    async def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"quit\n")
            await self.proc.stdin.drain()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


# -- the measurements ----------------------------------------------------------------------------
async def clicks_to_photon(cp: FakeControlPlane, holder: Viewer, go: dict, n: int) -> list[float]:
    out: list[float] = []
    for _ in range(n):
        # whatever the panel shows now, the click turns it to the other colour (on a static
        # page with damage-driven capture no new frame comes until something changes)
        def shown(f: Any) -> bool:
            return is_colour(pixel(f, *PANEL), RED) or is_colour(pixel(f, *PANEL), BLUE)

        if holder.latest is None or not shown(holder.latest):
            await holder.wait_frame(shown, 5)
        assert holder.latest is not None
        target = BLUE if is_colour(pixel(holder.latest, *PANEL), RED) else RED
        # A random phase against the 30 fps capture clock, as a person's clicks have (a fixed
        # pause would land every click at the same point of the frame and bias the figure).
        await asyncio.sleep(0.25 + random.random() / 30)
        sent = time.monotonic()
        holder.click(go["x"], go["y"])
        with contextlib.suppress(TimeoutError):
            seen = await holder.wait_frame(lambda f, t=target: is_colour(pixel(f, *PANEL), t), 5)
            out.append((seen - sent) * 1000)
    return out


async def measure(
    cp: FakeControlPlane,
    agent: AgentProcess,
    viewers: ViewerProcess,
    n: int,
    seconds: float,
    clicks: int,
) -> dict[str, Any]:
    connected = await viewers.ask(f"connect {n - 1}")
    viewers.conns = connected["conns"]
    holder = Viewer(cp, f"holder-{n}")
    await holder.connect()
    await holder.wait_channels()
    await cp.set_holder(holder.user)
    await holder.wait_frame(lambda f: True, 10)
    await asyncio.sleep(2)
    assert agent.proc is not None
    proc = psutil.Process(agent.proc.pid)
    proc.cpu_percent(None)
    hb0 = await cp.heartbeat()
    t0 = time.monotonic()
    stub = await viewers.ask(f"measure {seconds}")
    hb1 = await cp.heartbeat()
    t1 = time.monotonic()
    cpu = proc.cpu_percent(None)
    load = os.getloadavg()[0]
    decoded_fps = holder.fps(t0, t1)
    frames = hb1["frames_encoded"] - hb0["frames_encoded"]
    go = await Cdp(agent.cdp_port).evaluate("layout('#go')")
    lat = await clicks_to_photon(cp, holder, go, clicks)
    await holder.close()
    for conn in viewers.conns:
        await cp.send("peer.closed", {"conn": conn})
    delivered = [*stub["fps"], decoded_fps]
    return {
        "viewers": n,
        "connected": connected["connected"] + 1,
        "fps_min": min(delivered),
        "fps_mean": statistics.mean(delivered),
        "decoded_fps": decoded_fps,
        "encoded_fps": frames / (t1 - t0),
        "encode_ms": hb1["encode_ms"],
        "capture_ms": hb1.get("capture_ms", 0.0),
        "cpu": cpu,
        "load": load,
        "lat": lat,
    }


async def run_mode(args: argparse.Namespace, mode: str) -> list[dict[str, Any]]:
    cp = FakeControlPlane()
    await cp.start()
    env = {"WP_ENCODE_MODE": mode, "WP_CAPTURE": args.capture, "WP_QUALITY": args.quality}
    if args.threads:
        env["WP_ENCODER_THREADS"] = str(args.threads)
    if args.ladder is not None:
        env["WP_LADDER"] = args.ladder
    if args.no_pacing:
        env["WP_PACING"] = "false"
    page = cp.page_url("anim.html?static=1" if args.static else "anim.html")
    agent = AgentProcess(cp, codec=args.codec, start_url=page, extra_env=env)
    await agent.start(Path(tempfile.mkdtemp(prefix="wp-bench-")))
    viewers = ViewerProcess(cp.url)
    rows = []
    try:
        await cp.wait_type("ready", 60)
        await viewers.start()
        for n in (int(x) for x in args.viewers.split(",")):
            row = await measure(cp, agent, viewers, n, args.seconds, args.clicks)
            row["mode"] = mode
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "lat"}), file=sys.stderr)
    finally:
        await viewers.stop()
        await agent.stop()
        await cp.stop()
    return rows


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def table(args: argparse.Namespace, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"room agent, {args.codec} 1280x720@30, {'static' if args.static else 'moving canvas'} "
        f"page, capture {args.capture}, quality {args.quality}, loopback, aiortc viewers "
        f"({os.cpu_count()} CPUs)",
        "",
        "| encoding | viewers | delivered fps min / mean | decoded fps (holder) | encoder fps "
        "| grab+convert ms | encode ms | agent CPU % | CPU % per extra viewer "
        "| input-to-photon p50 / p95 ms | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_mode.setdefault(r["mode"], []).append(r)
    for mode, rs in by_mode.items():
        base = rs[0]
        for r in rs:
            extra = (
                f"{(r['cpu'] - base['cpu']) / (r['viewers'] - base['viewers']):.1f}"
                if r["viewers"] > base["viewers"]
                else "-"
            )
            encoding = "once (shared)" if mode == "shared" else "per viewer (aiortc)"
            encode_ms = f"{r['encode_ms']:.1f}" if mode == "shared" else "in aiortc"
            lat = r["lat"]
            lines.append(
                f"| {encoding} | {r['viewers']} | {r['fps_min']:.1f} / {r['fps_mean']:.1f} "
                f"| {r['decoded_fps']:.1f} | {r['encoded_fps']:.1f} | {r['capture_ms']:.1f} "
                f"| {encode_ms} | {r['cpu']:.0f} | {extra} "
                f"| {statistics.median(lat):.0f} / {pct(lat, 95):.0f} ({len(lat)} clicks) "
                f"| {r['load']:.1f} |"
                if lat
                else f"| {encoding} | {r['viewers']} | {r['fps_min']:.1f} / {r['fps_mean']:.1f} "
                f"| {r['decoded_fps']:.1f} | {r['encoded_fps']:.1f} | {r['capture_ms']:.1f} "
                f"| {encode_ms} | {r['cpu']:.0f} | {extra} | - | {r['load']:.1f} |"
            )
    return "\n".join(lines)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--codec", default="h264", choices=["h264", "vp8"])
    ap.add_argument("--clicks", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--viewers", default="1,3,10")
    ap.add_argument("--modes", default="shared,per_viewer")
    ap.add_argument("--threads", type=int, default=0, help="WP_ENCODER_THREADS (0: agent default)")
    ap.add_argument("--static", action="store_true", help="the page only changes on a click")
    ap.add_argument("--capture", default="damage", choices=["damage", "clock"], help="WP_CAPTURE")
    ap.add_argument(
        "--quality",
        default="latency",
        choices=["latency", "balanced", "quality"],
        help="WP_QUALITY",
    )
    ap.add_argument(
        "--ladder", default=None, help="WP_LADDER (default: the agent's; '' = one rung, no ladder)"
    )
    ap.add_argument("--no-pacing", action="store_true", help="WP_PACING=false")
    ap.add_argument(
        "--aiortc-jitter",
        action="store_true",
        help="holder keeps aiortc's jitter buffer (+1 frame interval a browser does not add)",
    )
    args = ap.parse_args()
    if not args.aiortc_jitter:
        _install_marker_jitter_buffer()
    rows: list[dict[str, Any]] = []
    for mode in args.modes.split(","):
        rows += await run_mode(args, mode)
    print()
    print(table(args, rows))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--viewer-process":
        asyncio.run(_viewer_process(sys.argv[2]))
    else:
        asyncio.run(main())
