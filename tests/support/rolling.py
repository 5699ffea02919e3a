"""Room members and a room agent that live through a rolling upgrade of the API processes as the
web app (frontend/src/realtime/roomSocket.ts, roomClient.ts) and the agent
(roomagent/control.py) do: on 1012 ("service restart") they reconnect at once to another
process, and a member sends again, with the same `client_id`, each chat message it has not seen
come back. Everything else that happens to them (another close code, an `error`, a refused
connection, someone leaving, the agent going) is a problem the test reports."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from tests.support.users import SignedIn

CLOSE_SERVICE_RESTART = 1012


@dataclass
class MovingMember:
    user: SignedIn
    code: str
    # The room socket URLs of the processes serving now (the test changes them as it restarts).
    servers: Callable[[], list[str]]
    # Chat messages seen, by message id (a repeat of an id is dropped, as the web app does).
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What went wrong for this member, in words (empty: nothing).
    problems: list[str] = field(default_factory=list)
    # When each 1012 arrived (monotonic), and the server it came from.
    moves: list[tuple[float, str]] = field(default_factory=list)
    # Sent, not seen back yet: client_id -> text.
    unconfirmed: dict[str, str] = field(default_factory=dict)
    _ws: Any = None  # the connection chat goes to (None while moving)
    _conn: Any = None  # the connection open now
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _sends: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self, url: str) -> None:
        self._task = asyncio.create_task(self._run(url), name=f"member-{self.user.username}")
        await asyncio.wait_for(self._ready.wait(), 20)

    async def say(self, text: str) -> str:
        """Send a chat message (kept for a resend until its echo arrives); its client_id."""
        client_id = f"c-{uuid.uuid4().hex[:12]}"
        self.unconfirmed[client_id] = text
        await self._send_chat(client_id, text)
        return client_id

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._conn is not None:
            await self._conn.close()

    async def _send_chat(self, client_id: str, text: str) -> None:
        ws = self._ws
        if ws is None:
            return  # moving: sent again once the next room.state arrives
        try:
            data = {"text": text, "client_id": client_id}
            await ws.send(json.dumps({"type": "chat.send", "data": data}))
        except websockets.ConnectionClosed:
            pass  # the same

    async def _run(self, url: str) -> None:
        while True:
            code = await self._session(url)
            if code != CLOSE_SERVICE_RESTART:
                self.problems.append(f"closed with {code} by {url}")
                return
            self.moves.append((time.monotonic(), url))
            others = [u for u in self.servers() if u != url]
            if not others:
                self.problems.append(f"moved by {url} with nowhere to go")
                return
            url = others[len(self.moves) % len(others)]

    async def _session(self, url: str) -> int | None:
        try:
            ws = await websockets.connect(f"{url}/api/rooms/{self.code}/ws", max_size=1 << 22)
        except OSError as exc:
            self.problems.append(f"could not connect to {url}: {exc!r}")
            return None
        self._conn = ws
        await ws.send(json.dumps({"type": "auth", "data": {"token": self.user.access_token}}))
        try:
            async for raw in ws:
                self._handle(ws, json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        finally:
            self._ws = None
        return ws.close_code

    def _handle(self, ws: Any, msg: dict[str, Any]) -> None:
        type_, data = msg["type"], msg["data"]
        if type_ == "room.state":
            for chat in data["chat"]:
                self._saw(chat)
            self._ws = ws
            for client_id, text in list(self.unconfirmed.items()):
                task = asyncio.get_running_loop().create_task(self._send_chat(client_id, text))
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)
            self._ready.set()
        elif type_ == "chat.message":
            self._saw(data)
        elif type_ == "error":
            self.problems.append(f"error: {data}")
        elif type_ == "presence.left":
            self.problems.append(f"saw {data['user_id']} leave")
        elif type_ == "room.status" and data.get("agent_connected") is False:
            self.problems.append(f"saw the agent go: {data}")

    def _saw(self, chat: dict[str, Any]) -> None:
        self.seen.setdefault(chat["id"], chat)
        if chat["user"]["id"] == self.user.id:
            self.unconfirmed.pop(chat.get("client_id") or "", None)


@dataclass
class MovingAgent:
    """A room's agent: authenticates, reports `ready` once, and moves on 1012."""

    room_id: str
    secret: str
    # The agent listeners' URLs of the processes serving now.
    servers: Callable[[], list[str]]
    problems: list[str] = field(default_factory=list)
    moves: list[tuple[float, str]] = field(default_factory=list)
    _conn: Any = None
    _task: asyncio.Task[None] | None = None
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, url: str) -> None:
        self._task = asyncio.create_task(self._run(url), name="agent")
        await asyncio.wait_for(self._ready.wait(), 20)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._conn is not None:
            await self._conn.close()

    async def _run(self, url: str) -> None:
        while True:
            code = await self._session(url)
            if code != CLOSE_SERVICE_RESTART:
                self.problems.append(f"agent closed with {code} by {url}")
                return
            self.moves.append((time.monotonic(), url))
            others = [u for u in self.servers() if u != url]
            if not others:
                self.problems.append(f"agent moved by {url} with nowhere to go")
                return
            url = others[0]

    async def _session(self, url: str) -> int | None:
        try:
            ws = await websockets.connect(f"{url}/internal/agents/ws", max_size=1 << 22)
        except OSError as exc:
            self.problems.append(f"agent could not connect to {url}: {exc!r}")
            return None
        self._conn = ws
        auth = {"room_id": self.room_id, "secret": self.secret}
        await ws.send(json.dumps({"type": "auth", "data": auth}))
        try:
            async for raw in ws:
                if json.loads(raw)["type"] == "auth.ok" and not self._ready.is_set():
                    ready = {"width": 1280, "height": 720, "fps": 30, "codec": "h264"}
                    await ws.send(json.dumps({"type": "ready", "data": ready}))
                    self._ready.set()
        except websockets.ConnectionClosed:
            pass
        return ws.close_code
