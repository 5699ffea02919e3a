"""One open socket each: its outbox (the one writer), and the close codes of docs/protocol.md.

Everything here runs on the event loop of the process that holds the socket; nothing is shared
with other replicas.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from enum import Enum

from fastapi import WebSocket
from starlette.websockets import WebSocketState

from controlplane.errors import DomainError, Kind
from controlplane.realtime.outbound import Outbound

# Close codes (also in docs/protocol.md)
CLOSE_NORMAL = 1000
CLOSE_LEFT = 4000
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_REPLACED = 4409
CLOSE_ENDED = 4410
CLOSE_TOO_BIG = 1009
CLOSE_TOO_SLOW = 1013

# A domain error that refuses a socket, as the close code and reason the client sees.
_CLOSE_FOR: dict[Kind, tuple[int, str]] = {
    Kind.unauthenticated: (CLOSE_UNAUTHENTICATED, "invalid or expired token"),
    Kind.forbidden: (CLOSE_FORBIDDEN, "not a member of this room"),
    Kind.not_found: (CLOSE_NOT_FOUND, "no such room"),
    Kind.gone: (CLOSE_ENDED, "room ended"),
}


def close_for(error: DomainError) -> tuple[int, str]:
    """How a socket is closed when `error` refuses it (anything unforeseen: 4401)."""
    return _CLOSE_FOR.get(error.kind, (CLOSE_UNAUTHENTICATED, "authenticate first"))


OUTBOX_LIMIT = 4096
FLOOD_PER_SECOND = 100


@dataclass
class _Close:
    code: int
    reason: str


class Outbox:
    """One writer per socket: sends stay ordered and a slow socket never blocks the room."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.closing = False

    def put(self, payload: str) -> None:
        if self.closing:
            return
        if self.queue.qsize() >= OUTBOX_LIMIT:
            self.close(CLOSE_TOO_SLOW, "too slow to keep up")
            return
        self.queue.put_nowait(payload)

    def close(self, code: int, reason: str = "") -> None:
        if not self.closing:
            self.closing = True
            self.queue.put_nowait(_Close(code, reason))

    async def run(self) -> None:
        try:
            while True:
                item = await self.queue.get()
                if isinstance(item, _Close):
                    if self.ws.application_state == WebSocketState.CONNECTED:
                        await self.ws.close(item.code, item.reason)
                    return
                await self.ws.send_text(item)
        except Exception:  # the peer went away; the reader notices and cleans up
            self.closing = True


class Flood(Enum):
    ok = "ok"
    warn = "warn"  # the first message over the limit: tell the client once
    drop = "drop"


@dataclass
class ClientConn:
    id: str
    room_id: str
    user_id: str
    username: str
    outbox: Outbox
    ready: bool = False
    pending: list[tuple[int | None, str]] = field(default_factory=list)
    window_start: float = 0.0
    window_count: int = 0

    def deliver(self, payload: str, seq: int | None) -> None:
        if self.ready:
            self.outbox.put(payload)
        else:
            self.pending.append((seq, payload))

    def start(self, state_payload: str, state_seq: int) -> None:
        """Send room.state first, then whatever arrived meanwhile that the state does not cover."""
        self.outbox.put(state_payload)
        for seq, payload in self.pending:
            if seq is None or seq > state_seq:
                self.outbox.put(payload)
        self.pending.clear()
        self.ready = True

    def flood(self) -> Flood:
        """Count one message against FLOOD_PER_SECOND (a fixed one-second window)."""
        now = time.monotonic()
        if now - self.window_start >= 1.0:
            self.window_start, self.window_count = now, 0
        self.window_count += 1
        if self.window_count <= FLOOD_PER_SECOND:
            return Flood.ok
        return Flood.warn if self.window_count == FLOOD_PER_SECOND + 1 else Flood.drop


@dataclass
class AgentConn:
    id: str
    room_id: str
    outbox: Outbox
    # When the room row last recorded a heartbeat of this agent (monotonic; written at most
    # every few seconds, not at every heartbeat).
    last_seen: float = 0.0

    def send(self, msg: Outbound) -> None:
        self.outbox.put(json.dumps({"type": msg.TYPE, "data": msg.data()}))
