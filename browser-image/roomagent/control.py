"""Client side of the agent channel (docs/protocol.md): auth, reconnect with backoff, dispatch.
Every message is a model of the wire package (`watchparty_wire.agent`)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from watchparty_wire.agent import AgentAuth, AgentMessage, AgentReport
from watchparty_wire.envelope import frame
from websockets.asyncio.client import ClientConnection

log = logging.getLogger("roomagent.control")

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]
OnConnected = Callable[[dict[str, Any]], Awaitable[None]]


# The control plane's "service restart" close (docs/protocol.md, agent channel close codes).
CLOSE_SERVICE_RESTART = 1012


def _close_code(error: BaseException) -> int | None:
    """The close code the control plane sent, when `error` is the channel closing."""
    if isinstance(error, websockets.ConnectionClosed) and error.rcvd is not None:
        return error.rcvd.code
    return None


class AuthRejected(RuntimeError):
    pass


class ControlLost(RuntimeError):
    """No authenticated channel to the control plane for the agent's `control_lost_s`."""


class ControlClient:
    def __init__(
        self,
        control_url: str,
        room_id: str,
        secret: str,
        handler: Handler,
        on_connected: OnConnected,
        *,
        give_up_after_s: float = 0.0,
        backoff_s: float = 0.5,
    ) -> None:
        self.url = control_url.rstrip("/") + "/internal/agents/ws"
        self.room_id = room_id
        self.secret = secret
        self.handler = handler
        self.on_connected = on_connected
        self._ws: ClientConnection | None = None
        self.connected = asyncio.Event()
        self.connects = 0
        # 0: reconnect forever. Otherwise `run` raises ControlLost after this long without an
        # authenticated channel (refused, unreachable or rejecting the secret alike).
        self.give_up_after_s = give_up_after_s
        self._down_since: float | None = time.monotonic()
        # The first wait before reconnecting, doubled per failure up to 30 s.
        self.backoff_s = backoff_s
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, msg: AgentMessage) -> bool:
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(frame(msg.TYPE, msg.data()))
            return True
        except websockets.ConnectionClosed:
            return False

    async def run(self) -> None:
        """Keep the channel up (cancel to stop); raise ControlLost once it stayed down for
        `give_up_after_s`."""
        delay = self.backoff_s
        while True:
            moved = False
            connects = self.connects
            try:
                await self._session()
                delay = self.backoff_s
            except asyncio.CancelledError:
                raise
            except AuthRejected:
                log.error("control plane rejected the agent secret")
                delay = max(delay, 5.0)
            except (OSError, websockets.WebSocketException, TimeoutError) as e:
                # 1012 on an authenticated channel: that control-plane process is stopping (a
                # rolling upgrade); another one takes the channel at once, before the room's
                # viewers would miss the agent. (Refused with 1012 before auth.ok: backoff.)
                moved = self.connects > connects and _close_code(e) == CLOSE_SERVICE_RESTART
                log.warning("control channel down", extra={"error": repr(e), "moving": moved})
            finally:
                self._ws = None
                self.connected.clear()
                if self._down_since is None:
                    self._down_since = time.monotonic()
            wait = 0.0 if moved else delay * (0.8 + 0.4 * random.random())
            if self.give_up_after_s:
                down_for = time.monotonic() - self._down_since
                if down_for >= self.give_up_after_s:
                    raise ControlLost(f"no control plane for {down_for:.0f} s")
                # Wake up in time to give up on schedule.
                wait = min(wait, self.give_up_after_s - down_for)
            await asyncio.sleep(wait)
            delay = min(delay * 2, 30.0)

    async def _session(self) -> None:
        async with websockets.connect(self.url, open_timeout=10, max_size=4 * 1024 * 1024) as ws:
            auth = AgentAuth(room_id=self.room_id, secret=self.secret)
            await ws.send(frame(auth.TYPE, auth.data()))
            try:
                first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            except websockets.ConnectionClosed as e:
                if e.rcvd is not None and e.rcvd.code == 4401:
                    raise AuthRejected from e
                raise
            if first.get("type") != "auth.ok":
                raise AuthRejected(str(first))
            self._ws = ws
            self._down_since = None
            self.connects += 1
            self.connected.set()
            log.info("control channel up", extra={"url": self.url})
            await self.on_connected(first.get("data") or {})
            async for raw in ws:
                try:
                    msg = json.loads(raw)
                    type_ = str(msg["type"])
                    data = msg.get("data") or {}
                    if not isinstance(data, dict):
                        raise ValueError("data must be an object")
                except (ValueError, KeyError, TypeError) as e:
                    await self.send(AgentReport(code="bad_message", message=str(e)))
                    continue
                self.spawn(self.handler(type_, data), type_, data)

    def spawn(self, coro: Awaitable[None], type_: str, data: dict[str, Any] | None = None) -> None:
        """Run a handler without holding up the channel; failures are reported as `error`."""
        task = asyncio.create_task(self._dispatch(coro, type_, data or {}))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, coro: Awaitable[None], type_: str, data: dict[str, Any]) -> None:
        try:
            await coro
        except Exception as e:
            log.exception("handler failed", extra={"type": type_})
            conn = {"conn": data["conn"]} if "conn" in data else {}
            await self.send(AgentReport(code="handler_failed", message=f"{type_}: {e}", **conn))
