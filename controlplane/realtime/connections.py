"""One open socket each: its outbox (the one writer), and the close codes of docs/protocol.md.

Everything here runs on the event loop of the process that holds the socket; nothing is shared
with other replicas.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState
from watchparty_wire.envelope import Outbound

from controlplane.auth.access_tokens import AccessClaims
from controlplane.errors import DomainError, Kind
from controlplane.realtime.agent_media import AgentMedia

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
CLOSE_TOO_MANY = 4429
# The process is stopping (a rolling upgrade): reconnect at once, to another one.
CLOSE_SERVICE_RESTART = 1012

# A domain error that refuses a socket, as the close code and reason the client sees.
_CLOSE_FOR: dict[Kind, tuple[int, str]] = {
    Kind.unauthenticated: (CLOSE_UNAUTHENTICATED, "invalid or expired token"),
    Kind.forbidden: (CLOSE_FORBIDDEN, "not a member of this room"),
    Kind.not_found: (CLOSE_NOT_FOUND, "no such room"),
    Kind.gone: (CLOSE_ENDED, "room ended"),
    Kind.rate_limited: (CLOSE_TOO_MANY, "too many connections"),
}


def close_for(error: DomainError) -> tuple[int, str]:
    """How a socket is closed when `error` refuses it (anything unforeseen: 4401). A rate
    limit says which one (too many sockets, too many wrong room codes) in the close reason."""
    code, reason = _CLOSE_FOR.get(error.kind, (CLOSE_UNAUTHENTICATED, "authenticate first"))
    if error.kind is Kind.rate_limited and isinstance(error.detail, str):
        # a close reason is at most 123 bytes
        reason = error.detail.encode()[:120].decode(errors="ignore")
    return code, reason


FLOOD_PER_SECOND = 100
log = logging.getLogger(__name__)


_NOTHING: Any = object()


class LatestWins:
    """At most one run per `interval_s`: a value offered sooner waits for the end of the
    interval, replacing any value already waiting (the latest wins), so a socket toggling a
    state 100 times a second costs the room a few broadcasts, and the last state still
    arrives. With `dedupe`, a value equal to the last one run is dropped."""

    def __init__(self, interval_s: float, *, dedupe: bool) -> None:
        self.interval_s = interval_s
        self.dedupe = dedupe
        self._last_at = -math.inf
        self._last: Any = _NOTHING  # nothing run yet: the first value is never a repeat
        self._pending: tuple[Any, Callable[[Any], Awaitable[None]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def offer(self, value: Any, run: Callable[[Any], Awaitable[None]]) -> None:
        if self._task is None:
            if self.dedupe and value == self._last:
                return
            now = time.monotonic()
            if now - self._last_at >= self.interval_s:
                self._last_at, self._last = now, value
                await run(value)
                return
            self._task = asyncio.create_task(self._later(self._last_at + self.interval_s - now))
        self._pending = (value, run)

    async def _later(self, wait_s: float) -> None:
        await asyncio.sleep(max(0.0, wait_s))
        self._task = None
        pending, self._pending = self._pending, None
        if pending is None:
            return
        value, run = pending
        if self.dedupe and value == self._last:
            return
        self._last_at, self._last = time.monotonic(), value
        try:
            await run(value)
        except Exception:
            log.exception("coalesced update failed")

    @property
    def latest(self) -> Any:
        """The value in effect once what waits has run: the one waiting, else the last run
        (a sentinel before any)."""
        return self._pending[0] if self._pending is not None else self._last

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._pending = None


class Throttles(dict[str, LatestWins]):
    """A socket's coalescers, one per message type, made on first use (client and agent
    sockets alike)."""

    def of(self, type_: str, interval_s: float, *, dedupe: bool) -> LatestWins:
        found = self.get(type_)
        if found is None:
            found = self[type_] = LatestWins(interval_s, dedupe=dedupe)
        return found

    def cancel(self) -> None:
        for throttle in self.values():
            throttle.cancel()


@dataclass(frozen=True)
class OutboxLimits:
    """How much one socket may have waiting, and how long one send may take (settings
    ROOM_WS_OUTBOX_MAX_MESSAGES, ROOM_WS_OUTBOX_MAX_BYTES, ROOM_WS_STALL_SECONDS)."""

    max_messages: int = 4096
    # Characters of queued JSON (the JSON is almost all ASCII: about its bytes).
    max_bytes: int = 1 << 20
    stall_s: float = 5.0


@dataclass
class _Close:
    code: int
    reason: str


class Outbox:
    """One writer per socket: sends stay ordered and a slow socket never blocks the room.

    Concurrency contract: `put`, `close` and `abort` are called from the event loop (never
    awaited, never blocking); `run` is the only coroutine that touches the socket for sending.
    A socket that does not read costs at most `limits.max_bytes` here: past that, or when one
    send makes no progress for `limits.stall_s` (the peer's TCP window stays shut), the outbox is
    aborted: what is queued is dropped, the writer gives up with 1013, and `done` is set, which
    the hub takes as the end of the socket (it stops reading it and runs the usual clean-up).
    """

    def __init__(self, ws: WebSocket, limits: OutboxLimits | None = None) -> None:
        self.ws = ws
        self.limits = limits or OutboxLimits()
        self.queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.queued_bytes = 0
        self.closing = False
        self.close_code: int | None = None
        # Set once the writer has finished, for whatever reason: the socket is over.
        self.done = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._abort_pending = False  # `abort` cancelled the writer's send
        self._sending = False  # the writer is inside a send (the one await `abort` cancels)

    def start(self, name: str) -> asyncio.Task[None]:
        self._writer = asyncio.create_task(self.run(), name=name)
        return self._writer

    def put(self, payload: str) -> None:
        if self.closing:
            return
        size = len(payload)
        limits = self.limits
        if self.queue.qsize() >= limits.max_messages or self.queued_bytes + size > limits.max_bytes:
            self.abort(CLOSE_TOO_SLOW, "too slow to keep up")
            return
        self.queued_bytes += size
        self.queue.put_nowait(payload)

    def close(self, code: int, reason: str = "") -> None:
        """Close after what is already queued has been sent (an orderly end)."""
        if not self.closing:
            self.closing = True
            self.close_code = code
            self.queue.put_nowait(_Close(code, reason))

    def abort(self, code: int, reason: str = "") -> None:
        """Drop what is queued and end now (the queue would never drain)."""
        if self.done.is_set():
            return
        self.closing = True
        self.close_code = code
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queued_bytes = 0
        self.queue.put_nowait(_Close(code, reason))
        # A send blocked on a full TCP window never returns: cancel it; `run` then closes.
        if (
            self._sending
            and self._writer is not None
            and self._writer is not asyncio.current_task()
        ):
            self._abort_pending = True
            self._writer.cancel()

    async def _send_close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            # Bounded: a peer that does not read may not take the close frame either.
            await asyncio.wait_for(self.ws.close(code, reason), self.limits.stall_s)

    async def run(self) -> None:
        try:
            while True:
                try:
                    item = await self.queue.get()
                    if isinstance(item, _Close):
                        try:
                            await self._send_close(item.code, item.reason)
                        except TimeoutError:
                            pass  # the peer takes nothing at all; dropping it is the point
                        return
                    self._sending = True
                    try:
                        await asyncio.wait_for(self.ws.send_text(item), self.limits.stall_s)
                    finally:
                        self._sending = False
                    self.queued_bytes -= len(item)
                except TimeoutError:
                    self.abort(CLOSE_TOO_SLOW, "too slow to keep up")
                except asyncio.CancelledError:
                    if not self._abort_pending:
                        raise  # not our abort: the task itself is being cancelled
                    # our abort: loop once more to send its close frame (bounded)
                    self._abort_pending = False
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
        except Exception:  # the peer went away; the reader notices and cleans up
            self.closing = True
        finally:
            self.done.set()


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
    # The access token it was opened (or last extended) with; None: not checked again.
    claims: AccessClaims | None = None
    ready: bool = False
    pending: list[tuple[int | None, str]] = field(default_factory=list)
    window_start: float = 0.0
    window_count: int = 0
    # Coalesced per-socket updates (voice.state, chat.typing), by message type.
    throttles: Throttles = field(default_factory=Throttles)

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


# The agent channel's flood guard (a room's agent is our code, but beside an untrusted page and,
# compromised, anyone's): frames per second one agent connection may send (a real agent sends a
# heartbeat every 10 s, a status per page change and one answer per viewer's offer), and how
# many `error` reports of them are logged and relayed to viewers.
AGENT_FLOOD_PER_SECOND = 200
AGENT_ERRORS_PER_SECOND = 5


@dataclass
class RateWindow:
    """Counts events against `limit` per fixed one-second window."""

    limit: int
    start: float = 0.0
    count: int = 0

    def hit(self) -> Flood:
        now = time.monotonic()
        if now - self.start >= 1.0:
            self.start, self.count = now, 0
        self.count += 1
        if self.count <= self.limit:
            return Flood.ok
        return Flood.warn if self.count == self.limit + 1 else Flood.drop


@dataclass
class AgentConn:
    id: str
    room_id: str
    outbox: Outbox
    # When the room row last recorded a heartbeat of this agent (monotonic; written at most
    # every few seconds, not at every heartbeat).
    last_seen: float = 0.0
    # The media figures of its last heartbeat (encoder ladder, viewers' estimates) for /metrics.
    media: AgentMedia | None = None
    frames: RateWindow = field(default_factory=lambda: RateWindow(AGENT_FLOOD_PER_SECOND))
    errors: RateWindow = field(default_factory=lambda: RateWindow(AGENT_ERRORS_PER_SECOND))
    # Coalesced reports (browser.status, media.state, stage, ready), by message type: relayed
    # and written at most once per interval, the latest winning.
    throttles: Throttles = field(default_factory=Throttles)
    # When its last `media.ended` moved the room's queue on (monotonic).
    last_advance: float = -math.inf

    def send(self, msg: Outbound) -> None:
        self.outbox.put(json.dumps({"type": msg.TYPE, "data": msg.data()}))


# ---------------------------------------------------------------- a served socket's end


async def until_over(reading: Awaitable[None], outbox: Outbox) -> None:
    """Run a socket's read loop until it returns or the socket's writer is finished (it
    closed the socket: kicked, ended, aborted as too slow). Reading stops at once then, so
    a peer that ignores the close frame gets none of its later frames handled."""
    reader = asyncio.ensure_future(reading)
    over = asyncio.ensure_future(outbox.done.wait())
    try:
        await asyncio.wait({reader, over}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, over):
            task.cancel()
        await asyncio.gather(reader, over, return_exceptions=True)
    if reader.done() and not reader.cancelled():
        error = reader.exception()
        if error is not None and not isinstance(error, WebSocketDisconnect):
            raise error


async def end_writer(writer: asyncio.Task[None]) -> bool:
    """Give a closed socket's writer 2 s to send its close frame. True when the task waiting
    was itself cancelled meanwhile (a server stopping): its caller spawns its clean-up and then
    re-raises, instead of swallowing the cancellation as if the writer alone had ended."""
    try:
        await asyncio.wait_for(writer, timeout=2)
    except asyncio.CancelledError:
        writer.cancel()
        task = asyncio.current_task()
        return task is not None and task.cancelling() > 0
    except Exception:  # the timeout, or the writer's own failure
        writer.cancel()
    return False
