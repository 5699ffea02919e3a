# ruff: noqa: ASYNC109, ASYNC110
"""Test/bench harness for the room agent: a fake control plane, test pages, real aiortc viewers.

Everything is real: a ``websockets`` server on loopback speaks the agent side of
docs/protocol.md, the agent runs as ``python -m roomagent`` in launch mode, and viewers are aiortc
peers that offer recvonly video + audio and the two data channels.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import av
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from roomagent.input import wire
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

ROOT = Path(__file__).resolve().parents[2]
# The test pages live beside the agent's tests; benches serve them too.
PAGES = ROOT / "tests" / "agent" / "pages"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeControlPlane:
    """Agent channel at /internal/agents/ws, a viewer relay at /viewer, and /pages/* over HTTP."""

    def __init__(
        self, room_id: str = "room-1", secret: str = "s3cret", host: str = "127.0.0.1"
    ) -> None:
        # `host` "0.0.0.0": viewers in network namespaces reach the pages and the relay at the
        # host's end of their link (bench/networks.py); the agent dials loopback either way.
        self.host = host
        self.room_id = room_id
        self.secret = secret
        self.holder_id: str | None = None
        # Extra auth.ok fields (e.g. {"pooled": True} for a warm-pool browser).
        self.auth_extra: dict[str, Any] = {}
        self.port = 0
        self.agent: ServerConnection | None = None
        self.agent_connected = asyncio.Event()
        self.messages: list[dict[str, Any]] = []
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[Any]]] = []
        self._server: Any = None
        # Files served at /media/<name> (test clips made at test time), with byte ranges.
        self.media: dict[str, Path] = {}

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def page_url(self, name: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/pages/{name}"

    async def start(self) -> None:
        self._server = await serve(
            self._handle, self.host, 0, process_request=self._http, max_size=2**24
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    def _http(self, conn: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/pages/"):
            name = request.path.removeprefix("/pages/").split("?")[0]
            path = PAGES / name
            if "/" in name or not path.is_file():
                return conn.respond(HTTPStatus.NOT_FOUND, "not found\n")
            body = path.read_bytes()
            ctype = {
                "html": "text/html; charset=utf-8",
                "js": "text/javascript; charset=utf-8",
            }.get(name.rsplit(".", 1)[-1], "text/plain")
            headers = Headers({"Content-Type": ctype, "Content-Length": str(len(body))})
            return Response(200, "OK", headers, body)
        if request.path.startswith("/media/"):
            path = self.media.get(request.path.removeprefix("/media/").split("?")[0])
            if path is None:
                return conn.respond(HTTPStatus.NOT_FOUND, "not found\n")
            return _ranged(path.read_bytes(), request.headers.get("Range"))
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        if ws.request.path == "/internal/agents/ws":
            await self._agent_session(ws)
        elif ws.request.path == "/viewer":
            await self._viewer_session(ws)

    async def _agent_session(self, ws: ServerConnection) -> None:
        first = json.loads(await ws.recv())
        data = first.get("data", {})
        if (
            first.get("type") != "auth"
            or data.get("secret") != self.secret
            or data.get("room_id") != self.room_id
        ):
            await ws.close(4401, "unauthorized")
            return
        await ws.send(
            json.dumps(
                {
                    "type": "auth.ok",
                    "data": {
                        "room_id": self.room_id,
                        "holder_id": self.holder_id,
                        "ice_servers": [],
                        **self.auth_extra,
                    },
                }
            )
        )
        self.agent = ws
        self.agent_connected.set()
        with contextlib.suppress(Exception):
            async for raw in ws:
                msg = json.loads(raw)
                msg["_t"] = time.monotonic()
                self.messages.append(msg)
                for pred, fut in list(self._waiters):
                    if not fut.done() and pred(msg):
                        fut.set_result(msg)
                        self._waiters.remove((pred, fut))
        if self.agent is ws:
            self.agent = None
            self.agent_connected.clear()

    async def _viewer_session(self, ws: ServerConnection) -> None:
        """Relay for a browser test page: {offer, conn, user} in, {answer} out. When the page's
        socket closes its peers are closed, as the hub does for a viewer's socket."""
        conns: list[str] = []
        try:
            async for raw in ws:
                msg = json.loads(raw)
                conns.append(msg["conn"])
                sdp = await self.offer(msg["conn"], msg["user"], msg["sdp"])
                await ws.send(json.dumps({"type": "answer", "sdp": sdp}))
        finally:
            for conn in conns:
                with contextlib.suppress(Exception):
                    await self.send("peer.closed", {"conn": conn})

    async def send(self, type_: str, data: dict[str, Any]) -> None:
        await asyncio.wait_for(self.agent_connected.wait(), 60)
        assert self.agent is not None
        await self.agent.send(json.dumps({"type": type_, "data": data}))

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30, past: bool = False
    ) -> dict[str, Any]:
        if past:
            for msg in reversed(self.messages):
                if pred(msg):
                    return msg
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((pred, fut))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove((pred, fut))

    async def wait_type(
        self, type_: str, timeout: float = 30, past: bool = False
    ) -> dict[str, Any]:
        return await self.wait_for(lambda m: m["type"] == type_, timeout, past)

    async def offer(self, conn: str, user: str, sdp: str) -> str:
        waiter = asyncio.ensure_future(
            self.wait_for(
                lambda m: m["type"] in ("rtc.answer", "error") and m["data"].get("conn") == conn,
                30,
            )
        )
        await self.send("rtc.offer", {"from": user, "conn": conn, "sdp": sdp})
        msg = await waiter
        if msg["type"] == "error":
            raise RuntimeError(msg["data"])
        assert msg["data"]["to"] == user
        return str(msg["data"]["sdp"])

    async def set_holder(self, holder: str | None) -> None:
        self.holder_id = holder
        await self.send("remote.changed", {"holder_id": holder})

    async def heartbeat(self, timeout: float = 10) -> dict[str, Any]:
        return (await self.wait_type("heartbeat", timeout))["data"]

    def statuses(self) -> list[dict[str, Any]]:
        return [m["data"] for m in self.messages if m["type"] == "browser.status"]

    async def after(
        self,
        type_: str,
        data: dict[str, Any],
        pred: Callable[[dict[str, Any]], bool],
        timeout: float = 10,
    ) -> dict[str, Any]:
        """Send `type_` to the agent and wait for the first message after it that matches."""
        waiter = asyncio.ensure_future(self.wait_for(pred, timeout))
        await asyncio.sleep(0)  # the waiter is registered before anything can answer
        await self.send(type_, data)
        return await waiter


def _ranged(body: bytes, range_header: str | None) -> Response:
    """A media file, whole or the byte range asked for (a browser seeks in a clip by ranges)."""
    headers = {"Content-Type": "video/webm", "Accept-Ranges": "bytes"}
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", (range_header or "").strip())
    if not m or not (m.group(1) or m.group(2)):
        headers["Content-Length"] = str(len(body))
        return Response(200, "OK", Headers(headers), body)
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else len(body) - 1, len(body) - 1)
    else:  # the last N bytes
        start, end = max(0, len(body) - int(m.group(2))), len(body) - 1
    if start >= len(body) or start > end:
        headers["Content-Range"] = f"bytes */{len(body)}"
        headers["Content-Length"] = "0"
        return Response(416, "Range Not Satisfiable", Headers(headers), b"")
    part = body[start : end + 1]
    headers["Content-Range"] = f"bytes {start}-{end}/{len(body)}"
    headers["Content-Length"] = str(len(part))
    return Response(206, "Partial Content", Headers(headers), part)


@dataclass
class AgentProcess:
    cp: FakeControlPlane
    codec: str = "h264"
    start_url: str = "about:blank"
    width: int = 1280
    height: int = 720
    fps: int = 30
    extra_env: dict[str, str] = field(default_factory=dict)
    cdp_port: int = 0
    proc: asyncio.subprocess.Process | None = None
    log_path: Path | None = None

    async def start(self, log_dir: Path) -> None:
        self.cdp_port = self.cdp_port or free_port()
        env = dict(os.environ)
        env.update(
            {
                "WP_CONTROL_URL": self.cp.url,
                "WP_ROOM_ID": self.cp.room_id,
                "WP_AGENT_SECRET": self.cp.secret,
                "WP_CODEC": self.codec,
                "WP_WIDTH": str(self.width),
                "WP_HEIGHT": str(self.height),
                "WP_FPS": str(self.fps),
                "WP_START_URL": self.start_url,
                "WP_CDP_PORT": str(self.cdp_port),
                "WP_HEARTBEAT_S": "1",
                "WP_KEYFRAME_INTERVAL_S": "30",
                "WP_LOG_LEVEL": "INFO",
                # The test pages are served from 127.0.0.1: what ROOM_ALLOW_PRIVATE_URLS allows
                # (the browser policy keeps blocking file:, chrome:, view-source:, devtools:).
                "WP_ALLOW_PRIVATE_URLS": "true",
            }
        )
        env.pop("DISPLAY", None)
        env.pop("WP_DISPLAY", None)
        env.update(self.extra_env)
        self.log_path = log_dir / f"agent-{self.codec}-{self.cp.port}.log"
        logf = self.log_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "roomagent", env=env, stdout=logf, stderr=logf, cwd=ROOT
        )
        logf.close()

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            return await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()

    def log_tail(self, n: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


# CDP (test side: read page state) ------------------------------------------------------------
class Cdp:
    """Minimal DevTools client to read page state from the test."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def evaluate(self, expression: str) -> Any:
        params = {
            "expression": expression,
            "returnByValue": True,
            "awaitPromise": True,  # a promise's result, not the promise
        }
        return (await self.call("Runtime.evaluate", params))["result"].get("value")

    async def screenshot(self, path: Path) -> Path:
        """The room page as its browser draws it, as a PNG at `path`."""
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))
        return path

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """One DevTools command on the first page target; its result."""
        import urllib.request

        import websockets

        def targets() -> Any:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as r:
                return json.loads(r.read())

        pages = [t for t in await asyncio.to_thread(targets) if t["type"] == "page"]
        async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=2**26) as ws:
            await ws.send(json.dumps({"id": 1, "method": method, "params": params}))
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("id") == 1:
                    return msg["result"]


def _json_get(url: str) -> Any:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


async def page_targets(port: int) -> list[dict[str, Any]]:
    """The room browser's page targets (its tabs), without Chromium's own UI pages."""
    listed = await asyncio.to_thread(_json_get, f"http://127.0.0.1:{port}/json/list")
    return [t for t in listed if t["type"] == "page" and ".top-chrome/" not in t["url"]]


async def _one_call(url: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    import websockets

    async with websockets.connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"id": 1, "method": method, "params": params}))
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("id") == 1:
                return dict(msg)


async def target_call(
    port: int, target_id: str, method: str, params: dict[str, Any]
) -> dict[str, Any]:
    """One DevTools command on one tab (by target id), over a connection of the test's own."""
    return await _one_call(f"ws://127.0.0.1:{port}/devtools/page/{target_id}", method, params)


async def tab_evaluate(port: int, target_id: str, expression: str) -> Any:
    """`expression`'s value in one tab's page (its main world)."""
    res = await target_call(
        port, target_id, "Runtime.evaluate", {"expression": expression, "returnByValue": True}
    )
    return res["result"]["result"].get("value")


async def browser_command(port: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One command on a browser-level DevTools connection of the test's own."""
    version = await asyncio.to_thread(_json_get, f"http://127.0.0.1:{port}/json/version")
    return await _one_call(version["webSocketDebuggerUrl"], method, params)


# viewer ----------------------------------------------------------------------------------------
_conn_ids = itertools.count(1)


def rms_s16(frame: av.AudioFrame) -> float:
    # aiortc's Opus decoder yields packed s16 stereo
    assert frame.format.name == "s16", frame.format.name
    data = bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)]
    n = len(data) // 2
    if not n:
        return 0.0
    samples = struct.unpack(f"<{n}h", data)
    return (sum(s * s for s in samples[::4]) / max(1, len(samples[::4]))) ** 0.5


class Viewer:
    def __init__(self, cp: FakeControlPlane, user: str) -> None:
        self.cp = cp
        self.user = user
        self.conn = f"conn-{next(_conn_ids)}"
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames: list[tuple[float, int, int, bool]] = []  # (t, w, h, key)
        self.latest: av.VideoFrame | None = None
        self.first: av.VideoFrame | None = None  # the first frame decoded
        self.audio_rms: list[tuple[float, float]] = []
        self.cursor_pos: list[tuple[float, float]] = []
        self.cursor_shapes: list[tuple[int, int]] = []
        self.pongs: dict[int, float] = {}
        self.video_ssrc: int | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.frame_event = asyncio.Event()
        self.video_receiver: Any = None
        self.pointer: RTCDataChannel | None = None
        self.input: RTCDataChannel | None = None
        self.offer_sent_at = 0.0
        # a test may edit the offer before it is sent (e.g. to offer what Chromium offers)
        self.munge_offer: Callable[[str], str] = lambda sdp: sdp

    async def connect(self) -> None:
        pc = self.pc
        self.video_receiver = pc.addTransceiver("video", direction="recvonly").receiver
        pc.addTransceiver("audio", direction="recvonly")
        self.pointer = pc.createDataChannel("pointer", ordered=False, maxRetransmits=0)
        self.input = pc.createDataChannel("input")
        for ch in (self.pointer, self.input):
            ch.on("message", self._on_message)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.tasks.append(asyncio.create_task(self._consume(track)))

        await pc.setLocalDescription(await pc.createOffer())
        self.offer_sent_at = time.monotonic()
        offer = self.munge_offer(pc.localDescription.sdp)
        answer = await self.cp.offer(self.conn, self.user, offer)
        video = answer.split("m=video", 1)[1].split("m=audio", 1)[0]
        m = re.search(r"a=ssrc:(\d+) ", video)
        self.video_ssrc = int(m.group(1)) if m else None
        self.answer_sdp = answer
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def wait_channels(self, timeout: float = 10) -> None:
        async def opened() -> None:
            while not all(
                ch is not None and ch.readyState == "open" for ch in (self.pointer, self.input)
            ):
                await asyncio.sleep(0.02)

        await asyncio.wait_for(opened(), timeout)

    def _on_message(self, data: bytes | str) -> None:
        if isinstance(data, str) or not data:
            return
        op = data[0]
        if op == wire.CURSOR_POS:
            x, y = struct.unpack_from("<HH", data, 1)
            self.cursor_pos.append((x / wire.NORM, y / wire.NORM))
        elif op == wire.CURSOR_SHAPE:
            w, h = struct.unpack_from("<HH", data, 1)
            self.cursor_shapes.append((w, h))
        elif op == wire.PONG:
            (ident,) = struct.unpack_from("<I", data, 1)
            self.pongs[ident] = time.monotonic()

    async def _consume(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                now = time.monotonic()
                if isinstance(frame, av.VideoFrame):
                    self.frames.append((now, frame.width, frame.height, bool(frame.key_frame)))
                    self.latest = frame
                    if self.first is None:
                        self.first = frame
                    self.frame_event.set()
                elif isinstance(frame, av.AudioFrame):
                    self.audio_rms.append((now, rms_s16(frame)))

    def fps(self, since: float, until: float | None = None) -> float:
        until = until or time.monotonic()
        n = sum(1 for t, *_ in self.frames if since <= t <= until)
        return n / max(1e-6, until - since)

    async def wait_frame(self, pred: Callable[[av.VideoFrame], bool], timeout: float) -> float:
        """Wait until a decoded frame satisfies pred; returns the time it was decoded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.frame_event.clear()
            if self.latest is not None and pred(self.latest):
                return time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.frame_event.wait(), max(0.01, deadline - time.monotonic())
                )
        raise TimeoutError("no matching frame")

    async def send_pli(self) -> None:
        assert self.video_ssrc is not None
        await self.video_receiver._send_rtcp_pli(self.video_ssrc)

    def send_pointer(self, data: bytes) -> None:
        assert self.pointer is not None
        self.pointer.send(data)

    def send_input(self, data: bytes) -> None:
        assert self.input is not None
        self.input.send(data)

    def click(self, x: float, y: float, button: int = 1) -> None:
        self.send_input(wire.button(button, True, x, y))
        self.send_input(wire.button(button, False, x, y))

    def key(self, key: str, code: str, mods: set[str] | None = None, down: bool = True) -> None:
        self.send_input(wire.key(key, code, mods or set(), down))

    def tap(self, key: str, code: str, mods: set[str] | None = None) -> None:
        self.key(key, code, mods, True)
        self.key(key, code, mods, False)

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await self.pc.close()
        with contextlib.suppress(Exception):
            await self.cp.send("peer.closed", {"conn": self.conn})


async def start_agent(
    log_dir: Path, codec: str = "h264", **kw: object
) -> tuple[FakeControlPlane, AgentProcess]:
    """A fake control plane and an agent on the moving test page, once the agent said `ready`."""
    cp = FakeControlPlane()
    await cp.start()
    agent = AgentProcess(cp, codec=codec, start_url=cp.page_url("anim.html"), **kw)  # type: ignore[arg-type]
    await agent.start(log_dir)
    try:
        await cp.wait_type("ready", timeout=45)
    except TimeoutError:
        await agent.stop()
        await cp.stop()
        raise AssertionError("agent never became ready:\n" + agent.log_tail()) from None
    return cp, agent
