"""A stand-in room runtime, a live server, and WebSocket clients that play viewers and agents."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from controlplane.main import app_factory, create_app, server_options
from controlplane.runtime.base import RuntimeInfo
from controlplane.settings import Settings
from tests.support.smtp import free_port
from tests.support.users import SignedIn, signed_in


@dataclass
class Started:
    room_id: uuid.UUID
    room_code: str
    agent_secret: str
    start_url: str | None


@dataclass
class RecordingRuntime:
    """Starts nothing: records what it was asked so a test can play the agent itself."""

    name: str = "test"
    started: dict[str, Started] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)

    async def start(
        self, *, room_id: uuid.UUID, room_code: str, agent_secret: str, start_url: str | None
    ) -> str:
        self.started[room_code] = Started(room_id, room_code, agent_secret, start_url)
        return f"test-{room_code}"

    async def stop(self, *, runtime_ref: str) -> None:
        self.stopped.append(runtime_ref)

    async def status(self, *, runtime_ref: str) -> RuntimeInfo:
        return RuntimeInfo(runtime_ref=runtime_ref, room_id=None, state="running")

    async def list_managed(self) -> list[RuntimeInfo]:
        return []

    async def aclose(self) -> None:
        return None


@dataclass
class Live:
    url: str
    runtime: RecordingRuntime
    http: httpx.AsyncClient
    app_settings: Settings
    app: FastAPI
    agent_port: int

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    @property
    def agent_ws_url(self) -> str:
        """The agent listener (AGENT_PORT), where room agents dial."""
        return f"ws://127.0.0.1:{self.agent_port}"


@asynccontextmanager
async def live_server(
    settings: Settings, *, runtime: Any = None, port: int | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[Live]:
    """The app under a real uvicorn on a loopback port and an agent port (AGENT_PORT when the
    test set it, else a free one; AGENT_CONTROL_URL names it unless the test set that), in this
    event loop. `runtime=False` keeps the backend ROOM_RUNTIME names (e.g. real local rooms)."""
    if runtime is None:
        runtime = RecordingRuntime()
    port = port or free_port()
    # The production limits (server_options): the transport's frame limit and the app's.
    options = {**server_options(settings), "host": host}
    wanted = settings.AGENT_PORT if "AGENT_PORT" in settings.model_fields_set else 0
    agent_sock = uvicorn.Config(app_factory, factory=True, port=wanted, **options).bind_socket()
    agent_port = agent_sock.getsockname()[1]
    update: dict[str, Any] = {"AGENT_PORT": agent_port}
    if "AGENT_CONTROL_URL" not in settings.model_fields_set:
        update["AGENT_CONTROL_URL"] = f"ws://127.0.0.1:{agent_port}"
    settings = settings.model_copy(update=update)
    app = create_app(settings, runtime=runtime or None)
    config = uvicorn.Config(app, port=port, lifespan="on", **options)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[config.bind_socket(), agent_sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield Live(
                url=url,
                runtime=runtime,
                http=http,
                app_settings=settings,
                app=app,
                agent_port=agent_port,
            )
    finally:
        server.should_exit = True
        await _stopped(task, settings)


async def _stopped(task: asyncio.Task[None], settings: Settings) -> None:
    """Wait for the server task to end, as long as the app's own bounds allow. Stopping is
    bounded by the product itself: uvicorn's graceful wait, then each of the context's close
    steps (background tasks, hub, runtime, Redis, database), each SHUTDOWN_TIMEOUT_SECONDS at
    most. A fixed 30 s here was shorter than that sum, so a busy box that made two steps run
    long failed the test in its teardown although the app did stop."""
    bound = settings.SHUTDOWN_TIMEOUT_SECONDS * (1 + SHUTDOWN_STEPS) + 30
    done, _ = await asyncio.wait({task}, timeout=bound)
    if not done:
        stack = "".join(f"{frame}\n" for frame in task.get_stack())
        task.cancel()
        raise AssertionError(f"the live server did not stop within {bound} s:\n{stack}")
    task.result()


# The close steps of AppContext.aclose (controlplane/context.py), each bounded on its own.
SHUTDOWN_STEPS = 5


class Socket:
    """A room or agent WebSocket that keeps every message, so tests can wait for a type."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []
        self._cursor = 0
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())
        self.close_code: int | None = None

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.received.append(json.loads(raw))
                self._arrived.set()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self._arrived.set()

    async def send(self, type_: str, data: dict[str, Any] | None = None) -> None:
        await self.ws.send(json.dumps({"type": type_, "data": data or {}}))

    async def send_raw(self, raw: str | bytes) -> None:
        await self.ws.send(raw)

    async def expect(self, type_: str, *, within: float = 10, **match: Any) -> dict[str, Any]:
        """The next message of `type_` (whose data has `match`) after the last one expected."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for i in range(self._cursor, len(self.received)):
                msg = self.received[i]
                if msg["type"] == type_ and all(msg["data"].get(k) == v for k, v in match.items()):
                    self._cursor = i + 1
                    return msg
            if self._reader.done():
                raise AssertionError(
                    f"closed ({self.close_code}) before {type_} {match}; got {self.types()}"
                )
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"no {type_} {match} within {within} s; got {self.types()}")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout=left)
            except TimeoutError:
                pass

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.received if m["type"] == type_]

    @property
    def conn_id(self) -> str:
        """A room socket's own id, as its first `room.state` names it (`you.conn_id`)."""
        return str(self.of_type("room.state")[0]["data"]["you"]["conn_id"])

    def types(self) -> list[str]:
        return [m["type"] for m in self.received]

    async def closed(self, within: float = 10) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._reader), timeout=within)
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        try:
            await asyncio.wait_for(self._reader, timeout=5)
        except TimeoutError:
            self._reader.cancel()


async def room_socket(ws_url: str, code: str, token: str, *, state: bool = True) -> Socket:
    ws = await websockets.connect(f"{ws_url}/api/rooms/{code}/ws", max_size=1 << 22)
    sock = Socket(ws)
    await sock.send("auth", {"token": token})
    if state:
        await sock.expect("room.state")
    return sock


async def stalled_socket(ws_url: str, code: str, token: str) -> ClientConnection:
    """A member's room socket that authenticates and then never reads again. A small receive
    buffer (no autotuning) and max_queue=1 (the client library stops reading the TCP stream
    after one frame) make the server's sends block soon, as across a real network; without them
    the client's kernel would take megabytes first. No keepalive pings either: the client
    library would end the connection itself after 40 s, which a peer that means to pin it would
    not. Abort its transport when done."""
    host, port = ws_url.removeprefix("ws://").rsplit(":", 1)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((host, int(port)))
    raw.setblocking(False)
    ws = await websockets.connect(
        f"{ws_url}/api/rooms/{code}/ws",
        sock=raw,
        max_queue=1,
        max_size=1 << 22,
        ping_interval=None,
    )
    await ws.send(json.dumps({"type": "auth", "data": {"token": token}}))
    return ws


async def agent_socket(ws_url: str, started: Started) -> Socket:
    ws = await websockets.connect(f"{ws_url}/internal/agents/ws", max_size=1 << 22)
    sock = Socket(ws)
    await sock.send("auth", {"room_id": str(started.room_id), "secret": started.agent_secret})
    await sock.expect("auth.ok")
    return sock


async def create_room(
    http: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    resp = await http.post("/api/rooms", json={"title": "Movie night", **body}, headers=headers)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def join(http: httpx.AsyncClient, code: str, headers: dict[str, str]) -> None:
    resp = await http.post(f"/api/rooms/{code}/join", headers=headers)
    assert resp.status_code == 200, resp.text


async def room_with_guests(
    live: Live, n_guests: int = 1
) -> tuple[dict[str, Any], SignedIn, list[SignedIn]]:
    """A room made by a new host, with `n_guests` new members who joined it."""
    host = await signed_in(live.http)
    room = await create_room(live.http, host.headers)
    guests = [await signed_in(live.http) for _ in range(n_guests)]
    for g in guests:
        await join(live.http, room["code"], g.headers)
    return room, host, guests


@pytest.fixture
async def live(settings_factory: Any) -> AsyncIterator[Live]:
    """A live server (both backends, via `settings_factory`) with a recording runtime."""
    settings = await settings_factory(ROOM_PRESENCE_GRACE_SECONDS=0.2)
    async with live_server(settings) as server:
        yield server
