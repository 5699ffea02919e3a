"""The load bench's client side (`bench/load.py`): one process holding many room sockets and the
stand-in agents of their rooms, driving the activity mix and measuring chat delivery.

A worker is driven by the bench over a `multiprocessing` pipe, one command at a time:
`("open", agents, sockets)` connects them (and keeps them connected: reconnect churn, and a
reconnect after any close it did not ask for, as the web app does), `("measure", True)` starts a
measuring window, `("measure", False)` ends it and answers the window's figures (after a drain,
so messages sent near its end can arrive), `("stop",)` closes everything. Every socket of a room
is held by the same worker, so the worker knows who should have received each chat message.

Concurrency contract: everything runs on the worker's one event loop; the pipe is read in a
thread (`asyncio.to_thread`), so a command never blocks the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

# Refusals the mix's own races earn (a request sent as the holder changed, a release after the
# remote moved on): the product's answer to a stale view, not a failure.
RACES = frozenset({"already_holder", "not_holder", "not_requested"})
CONNECT_TIMEOUT_S = 30.0
HEARTBEAT_S = 10.0


@dataclass(frozen=True)
class Mix:
    """What one person's socket does, per minute (docs/performance.md, "Sockets per API
    process"). Each action is a Poisson process of its own, so sockets never act in step."""

    chat_per_min: float = 1.0  # chat.typing true, 1-3 s of typing, chat.send
    typing_per_min: float = 0.5  # typing that ends without a message (true, 2 s, false)
    # remote.request when neither holding nor queued; the holder releases it 5-15 s later
    remote_per_min: float = 0.2
    reconnect_per_min: float = 0.1  # closes and reconnects: half a reload, half away 4-8 s
    ping_s: float = 15.0  # the web app's keepalive `ping`

    @property
    def actions(self) -> list[tuple[str, float]]:
        return [
            ("chat", self.chat_per_min),
            ("typing", self.typing_per_min),
            ("remote", self.remote_per_min),
            ("reconnect", self.reconnect_per_min),
        ]


@dataclass(frozen=True)
class SocketSpec:
    """One member's room socket."""

    room: str  # room code
    user_id: str
    token: str
    url: str  # ws://host:port of the API process it connects to
    server: int


@dataclass(frozen=True)
class AgentSpec:
    """A room's stand-in agent: authenticates, says `ready`, sends heartbeats."""

    room: str
    room_id: str
    secret: str
    url: str  # the API process's agent listener


@dataclass
class Window:
    """What one measuring window saw."""

    # chat client_id -> the connections (member, epoch) open in its room when it was sent
    sent: dict[str, list[tuple[Member, int]]] = field(default_factory=dict)
    sending: bool = True  # False while the window drains: new messages are not its own
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    races: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    received: int = 0


class RoomView:
    """The room's remote as its members here last heard it."""

    def __init__(self) -> None:
        self.holder: str | None = None
        self.requests: list[str] = []
        self.members: list[Member] = []


class Worker:
    def __init__(self, mix: Mix, seed: int) -> None:
        self.mix = mix
        self.random = random.Random(seed)
        self.rooms: dict[str, RoomView] = {}
        self.members: list[Member] = []
        self.agents: list[Agent] = []
        self.window: Window | None = None
        self.stopping = False
        self.counter = 0
        # Outside any window too: a failure between windows still shows in the next row.
        self.pending_errors: Counter[str] = Counter()

    def error(self, what: str) -> None:
        if self.window is not None:
            self.window.errors[what] += 1
        else:
            self.pending_errors[what] += 1

    async def open(self, agents: list[AgentSpec], sockets: list[SocketSpec]) -> dict[str, Any]:
        limit = asyncio.Semaphore(64)
        failures: Counter[str] = Counter()

        async def one(thing: Agent | Member) -> bool:
            async with limit:
                try:
                    await thing.connect()
                    return True
                except Exception as exc:
                    failures[type(exc).__name__ + ": " + str(exc)[:80]] += 1
                    return False

        new_agents = [Agent(self, spec) for spec in agents]
        agents_ok = sum(await asyncio.gather(*(one(a) for a in new_agents)))
        self.agents += new_agents
        new_members = []
        for spec in sockets:
            room = self.rooms.setdefault(spec.room, RoomView())
            member = Member(self, spec, room)
            room.members.append(member)
            new_members.append(member)
        connected = await asyncio.gather(*(one(m) for m in new_members))
        sockets_ok = sum(connected)
        self.members += new_members
        for member, ok in zip(new_members, connected, strict=True):
            if ok:  # one that did not open is counted (`failures`) and left alone
                member.start_acting()
        return {
            "agents_ok": agents_ok,
            "sockets_ok": sockets_ok,
            "failures": dict(failures.most_common(5)),
        }

    def measure_start(self) -> None:
        self.window = Window()
        self.window.errors.update(self.pending_errors)
        self.pending_errors.clear()
        for member in self.members:
            member.seen.clear()

    async def measure_stop(self, drain_s: float) -> dict[str, Any]:
        window = self.window
        assert window is not None
        window.sending = False
        await asyncio.sleep(drain_s)
        self.window = None
        expected = lost = 0
        for cid, recipients in window.sent.items():
            for member, epoch in recipients:
                if member.epoch != epoch:
                    continue  # that connection ended meanwhile (churn): it gets room.state
                expected += 1
                if cid not in member.seen:
                    lost += 1
        by_server: Counter[int] = Counter(m.spec.server for m in self.members if m.open)
        return {
            "latencies_ms": window.latencies_ms,
            "sent": len(window.sent),
            "expected": expected,
            "lost": lost,
            "errors": dict(window.errors),
            "races": dict(window.races),
            "actions": dict(window.actions),
            "received": window.received,
            "open_by_server": dict(by_server),
            "agents_open": sum(1 for a in self.agents if a.open),
        }

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*(m.close() for m in self.members), *(a.close() for a in self.agents))


class Member:
    """One person's socket: connects, reads everything, acts on the mix, comes back after a
    close it did not ask for (after 0.5-1.5 s, as the web app's first retry)."""

    def __init__(self, worker: Worker, spec: SocketSpec, room: RoomView) -> None:
        self.w = worker
        self.spec = spec
        self.room = room
        self.ws: ClientConnection | None = None
        self.open = False
        # Bumped whenever a connection ends: a message is owed only to the connection that was
        # open when it was sent.
        self.epoch = 0
        self.seen: set[str] = set()
        self.release_at = math.inf
        self._wake = asyncio.Event()  # the remote came to us: the actor's release is due sooner
        self._leaving = False
        self._reader: asyncio.Task[None] | None = None
        self._actor: asyncio.Task[None] | None = None
        self._coming_back: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        ws = await websockets.connect(
            f"{self.spec.url}/api/rooms/{self.spec.room}/ws",
            max_size=1 << 22,
            open_timeout=CONNECT_TIMEOUT_S,
            compression=None,
        )
        try:
            await ws.send(json.dumps({"type": "auth", "data": {"token": self.spec.token}}))
            first = json.loads(await asyncio.wait_for(ws.recv(), CONNECT_TIMEOUT_S))
        except BaseException:
            await ws.close()
            raise
        if first.get("type") != "room.state":
            await ws.close()
            raise RuntimeError(f"first message {first.get('type')}")
        remote = first["data"].get("remote") or {}
        self.room.holder = remote.get("holder_id")
        self.room.requests = list(remote.get("requests") or [])
        if self.room.holder == self.spec.user_id:  # still ours after a reload: let it go later
            self.release_at = time.monotonic() + 5 + 10 * random.random()
        self.ws, self.open, self._leaving = ws, True, False
        self._reader = asyncio.create_task(self._read(ws))

    def start_acting(self) -> None:
        self._actor = asyncio.create_task(self._act())

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                self._on(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.open = False
            self.epoch += 1
            if not self._leaving and not self.w.stopping:
                self.w.error(f"closed {ws.close_code}")
                self._coming_back = asyncio.create_task(self._come_back(0.5 + random.random()))

    def _on(self, msg: dict[str, Any]) -> None:
        w = self.w.window
        type_, data = msg.get("type"), msg.get("data") or {}
        if w is not None:
            w.received += 1
        if type_ == "chat.message":
            cid = data.get("client_id") or ""
            if w is not None and cid in w.sent:
                w.latencies_ms.append((time.time_ns() - int(cid.rsplit(":", 1)[1])) / 1e6)
                self.seen.add(cid)
        elif type_ == "remote.changed":
            self.room.holder = data.get("holder_id")
            self.room.requests = list(data.get("requests") or [])
            if self.room.holder == self.spec.user_id and self.release_at == math.inf:
                self.release_at = time.monotonic() + 5 + 10 * random.random()
                self._wake.set()
            elif self.room.holder != self.spec.user_id:
                self.release_at = math.inf
        elif type_ in ("remote.requested", "remote.requests"):
            self.room.requests = list(data.get("requests") or [])
        elif type_ == "error":
            code = str(data.get("code"))
            if code in RACES:
                if w is not None:
                    w.races[code] += 1
            else:
                self.w.error(f"error {code}")

    async def _send(self, type_: str, data: dict[str, Any] | None = None) -> bool:
        ws = self.ws
        if ws is None or not self.open:
            return False
        try:
            await ws.send(json.dumps({"type": type_, "data": data or {}}))
        except websockets.ConnectionClosed:
            return False
        if self.w.window is not None:
            self.w.window.actions[type_] += 1
        return True

    async def _act(self) -> None:
        mix, rnd = self.w.mix, self.w.random
        names = [name for name, _ in mix.actions]
        weights = [rate for _, rate in mix.actions]
        total_per_s = sum(weights) / 60
        now = time.monotonic()
        next_ping = now + rnd.uniform(0, mix.ping_s)
        next_act = now + (rnd.expovariate(total_per_s) if total_per_s else math.inf)
        while not self.w.stopping:
            due = min(next_ping, next_act, self.release_at)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, due - time.monotonic()))
            self._wake.clear()
            now = time.monotonic()
            if not self.open:  # reconnecting: pick up again once back
                self.release_at = math.inf  # gone for long, the remote goes (`holder_left`)
                next_ping = max(next_ping, now + mix.ping_s)
                next_act = max(next_act, now + 1)
                continue
            if self.release_at <= now:
                self.release_at = math.inf
                await self._send("remote.release")
            if next_ping <= now:
                next_ping = now + mix.ping_s
                await self._send("ping")
            if next_act <= now:
                await self._do(rnd.choices(names, weights)[0])
                next_act = time.monotonic() + rnd.expovariate(total_per_s)

    async def _do(self, action: str) -> None:
        rnd = self.w.random
        if action == "chat":
            await self._send("chat.typing", {"typing": True})
            await asyncio.sleep(rnd.uniform(1, 3))
            self.w.counter += 1
            cid = f"{self.w.counter}:{time.time_ns()}"
            window = self.w.window
            if window is not None and window.sending and self.open:
                window.sent[cid] = [(m, m.epoch) for m in self.room.members if m.open]
            await self._send("chat.send", {"text": f"hello {self.w.counter}", "client_id": cid})
        elif action == "typing":
            await self._send("chat.typing", {"typing": True})
            await asyncio.sleep(2)
            await self._send("chat.typing", {"typing": False})
        elif action == "remote":
            me = self.spec.user_id
            if self.room.holder != me and me not in self.room.requests:
                await self._send("remote.request")
        elif action == "reconnect":
            await self._leave()
            away = 0.2 if rnd.random() < 0.5 else rnd.uniform(4, 8)
            if self.w.window is not None:
                self.w.window.actions["reconnect"] += 1
            await self._come_back(away)

    async def _leave(self) -> None:
        self._leaving = True
        ws, reader = self.ws, self._reader
        if ws is not None:
            await ws.close()
        if reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader, 10)

    async def _come_back(self, after_s: float) -> None:
        await asyncio.sleep(after_s)
        delay = 1.0
        while not self.w.stopping:
            try:
                await self.connect()
                return
            except Exception as exc:
                self.w.error(f"reconnect failed: {type(exc).__name__}")
                await asyncio.sleep(delay)
                delay = min(10.0, delay * 2)

    async def close(self) -> None:
        for task in (self._actor, self._coming_back):
            if task is not None:
                task.cancel()
        await self._leave()


class Agent:
    """A room's agent as the control plane sees one: auth, `ready`, a heartbeat every 10 s,
    and everything the hub sends it read and dropped."""

    def __init__(self, worker: Worker, spec: AgentSpec) -> None:
        self.w = worker
        self.spec = spec
        self.ws: ClientConnection | None = None
        self.open = False
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self) -> None:
        ws = await websockets.connect(
            f"{self.spec.url}/internal/agents/ws", open_timeout=CONNECT_TIMEOUT_S, compression=None
        )
        auth = {"room_id": self.spec.room_id, "secret": self.spec.secret}
        await ws.send(json.dumps({"type": "auth", "data": auth}))
        first = json.loads(await asyncio.wait_for(ws.recv(), CONNECT_TIMEOUT_S))
        if first.get("type") != "auth.ok":
            await ws.close()
            raise RuntimeError(f"agent got {first.get('type')}")
        ready = {"width": 1280, "height": 720, "fps": 30, "codec": "h264"}
        await ws.send(json.dumps({"type": "ready", "data": ready}))
        self.ws, self.open = ws, True
        self._tasks = [asyncio.create_task(self._read(ws)), asyncio.create_task(self._beat(ws))]

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for _ in ws:
                pass
        except websockets.ConnectionClosed:
            pass
        finally:
            self.open = False
            if not self.w.stopping:
                self.w.error(f"agent closed {ws.close_code}")

    async def _beat(self, ws: ClientConnection) -> None:
        await asyncio.sleep(random.uniform(0, HEARTBEAT_S))
        beat = {"viewers": 0, "fps": 0, "encode_ms": 0, "cpu_percent": 1.0, "rss_mb": 300}
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                await ws.send(json.dumps({"type": "heartbeat", "data": beat}))
                await asyncio.sleep(HEARTBEAT_S)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.ws is not None:
            await self.ws.close()


def raise_nofile() -> tuple[int, int]:
    """Lift this process's open-file limit to its hard limit (one descriptor per socket); the
    processes it starts inherit it. Returns (soft, hard) as they are now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


async def _serve(conn: Connection, mix: Mix, seed: int) -> None:
    worker = Worker(mix, seed)
    while True:
        cmd = await asyncio.to_thread(conn.recv)
        if cmd[0] == "open":
            conn.send(await worker.open(cmd[1], cmd[2]))
        elif cmd[0] == "measure" and cmd[1]:
            worker.measure_start()
            conn.send("ok")
        elif cmd[0] == "measure":
            conn.send(await worker.measure_stop(cmd[2]))
        elif cmd[0] == "stop":
            await worker.stop()
            conn.send("stopped")
            return


def worker_main(conn: Connection, mix: Mix, seed: int) -> None:
    """A client process's entry point (multiprocessing, spawn)."""
    raise_nofile()
    try:
        import uvloop
    except ImportError:  # the standard loop works, only slower
        asyncio.run(_serve(conn, mix, seed))
    else:
        uvloop.run(_serve(conn, mix, seed))
