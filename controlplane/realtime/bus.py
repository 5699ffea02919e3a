"""The room bus: every replica sees every room broadcast, in one order, with a gap-free `seq`.

A broadcast is numbered when it is published (Redis: INCR and PUBLISH in one script, so the
numbering order is the delivery order on every subscriber). A publish can be guarded by a
compare-and-set on a small per-room value (the remote-control state), so a state change and the
events announcing it are one atomic step across replicas.

Direct messages (to one user, one socket, or the room's agent) ride the same per-room
subscription and carry no `seq` of their own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from controlplane.realtime.remote import Event

log = logging.getLogger(__name__)

# (room_id, kind, payload): kind "b" = broadcast (payload is the client-ready envelope),
# "d" = direct (payload is {"to": ..., "msg": {...}}). Called on the event loop, must not block.
Handler = Callable[[str, str, str], None]

KEY_TTL_S = 7 * 24 * 3600


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope_tail(type_: str, data: dict[str, Any]) -> str:
    """The envelope without its opening brace and seq: `"type":...,"data":...,"ts":...}`."""
    body = json.dumps({"type": type_, "data": data, "ts": now_iso()}, separators=(",", ":"))
    return body[1:]


def envelope(seq: int, tail: str) -> str:
    return '{"seq":' + str(seq) + "," + tail


@dataclass(frozen=True)
class Address:
    """Whom a direct message is for: the room's agent, every socket of one user, or one socket.
    On the bus it travels as "agent", "user:<id>" or "conn:<id>"."""

    kind: Literal["agent", "user", "conn"]
    id: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "agent" else f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, raw: str) -> Address | None:
        if raw == "agent":
            return AGENT
        kind, sep, id_ = raw.partition(":")
        if not sep or not id_:
            return None
        if kind == "user":
            return cls("user", id_)
        if kind == "conn":
            return cls("conn", id_)
        return None

    @classmethod
    def user(cls, user_id: str) -> Address:
        return cls("user", user_id)

    @classmethod
    def conn(cls, conn_id: str) -> Address:
        return cls("conn", conn_id)


AGENT = Address("agent")


@dataclass(frozen=True)
class Guard:
    """Publish only if the room value `name` is still `expected` ("" = absent), then set `new`."""

    name: str
    expected: str
    new: str


class Bus(Protocol):
    def set_handler(self, handler: Handler) -> None: ...

    async def start(self) -> None: ...

    async def subscribe(self, room_id: str) -> None:
        """Start receiving the room's messages; returns once the subscription is active."""
        ...

    async def unsubscribe(self, room_id: str) -> None: ...

    async def publish(
        self, room_id: str, events: list[Event], *, guard: Guard | None = None
    ) -> list[int] | None:
        """Broadcast events; return their seqs, or None when the guard did not match."""
        ...

    async def direct(self, room_id: str, to: Address, message: dict[str, Any]) -> None:
        """`message` ({type, data}) to `to` only, wherever in the room it is connected."""
        ...

    async def get_value(self, room_id: str, name: str) -> str | None: ...

    async def current_seq(self, room_id: str) -> int: ...

    async def aclose(self) -> None: ...


class InProcessBus:
    def __init__(self) -> None:
        self._handler: Handler = lambda room_id, kind, payload: None
        self._seq: dict[str, int] = {}
        self._values: dict[tuple[str, str], str] = {}

    def set_handler(self, handler: Handler) -> None:
        self._handler = handler

    async def start(self) -> None:
        return None

    async def subscribe(self, room_id: str) -> None:
        return None

    async def unsubscribe(self, room_id: str) -> None:
        return None

    async def publish(
        self, room_id: str, events: list[Event], *, guard: Guard | None = None
    ) -> list[int] | None:
        # No await between the check and the deliveries: atomic on the event loop.
        if guard is not None:
            if self._values.get((room_id, guard.name), "") != guard.expected:
                return None
            self._values[(room_id, guard.name)] = guard.new
        seqs = []
        for type_, data in events:
            seq = self._seq.get(room_id, 0) + 1
            self._seq[room_id] = seq
            seqs.append(seq)
            self._handler(room_id, "b", envelope(seq, envelope_tail(type_, data)))
        return seqs

    async def direct(self, room_id: str, to: Address, message: dict[str, Any]) -> None:
        self._handler(room_id, "d", json.dumps({"to": str(to), "msg": message}))

    async def get_value(self, room_id: str, name: str) -> str | None:
        return self._values.get((room_id, name))

    async def current_seq(self, room_id: str) -> int:
        return self._seq.get(room_id, 0)

    async def aclose(self) -> None:
        return None


_PUBLISH_SCRIPT = """
if #KEYS == 2 then
  local cur = redis.call('GET', KEYS[2])
  if cur == false then cur = '' end
  if cur ~= ARGV[2] then return {0} end
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
end
local out = {1}
for i = 5, #ARGV do
  local s = redis.call('INCR', KEYS[1])
  redis.call('PUBLISH', ARGV[1], '{"seq":' .. s .. ',' .. ARGV[i])
  out[#out + 1] = s
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return out
"""


class RedisBus:
    def __init__(self, redis: Redis, *, prefix: str = "wp:room:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_PUBLISH_SCRIPT)
        self._handler: Handler = lambda room_id, kind, payload: None
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._confirmed: dict[str, asyncio.Event] = {}

    def _b(self, room_id: str) -> str:
        return f"{self._prefix}{room_id}"

    def _d(self, room_id: str) -> str:
        return f"{self._prefix}{room_id}:d"

    def set_handler(self, handler: Handler) -> None:
        self._handler = handler

    async def start(self) -> None:
        self._pubsub = self._redis.pubsub()
        try:
            # Keeps the pub/sub connection open while no room is subscribed.
            await self._pubsub.subscribe(f"{self._prefix}_keepalive")
        except (RedisError, OSError) as exc:
            # Start anyway: /readyz reports Redis down, and rooms subscribe once it is back.
            log.warning("redis unreachable at start", extra={"error": repr(exc)})
        self._reader = asyncio.create_task(self._read(), name="redis-bus-reader")

    async def _read(self) -> None:
        assert self._pubsub is not None
        plen = len(self._prefix)
        while True:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis bus read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if msg is None:
                continue
            channel = (
                msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
            )
            if msg["type"] == "subscribe":
                event = self._confirmed.get(channel)
                if event is not None:
                    event.set()
                continue
            if msg["type"] != "message":
                continue
            name = channel[plen:]
            kind = "b"
            if name.endswith(":d"):
                name, kind = name[:-2], "d"
            data = msg["data"]
            payload = data.decode() if isinstance(data, bytes) else str(data)
            try:
                self._handler(name, kind, payload)
            except Exception:
                log.exception("bus handler failed", extra={"room": name})

    async def subscribe(self, room_id: str) -> None:
        assert self._pubsub is not None
        channels = [self._b(room_id), self._d(room_id)]
        events = [self._confirmed.setdefault(ch, asyncio.Event()) for ch in channels]
        for e in events:
            e.clear()
        await self._pubsub.subscribe(*channels)
        try:
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=5)
        except TimeoutError:
            log.warning("redis subscription not confirmed in time", extra={"room": room_id})

    async def unsubscribe(self, room_id: str) -> None:
        if self._pubsub is None:
            return
        channels = [self._b(room_id), self._d(room_id)]
        for ch in channels:
            self._confirmed.pop(ch, None)
        await self._pubsub.unsubscribe(*channels)

    async def publish(
        self, room_id: str, events: list[Event], *, guard: Guard | None = None
    ) -> list[int] | None:
        keys = [f"{self._prefix}{room_id}:seq"]
        args: list[str | int] = [self._b(room_id), "", "", KEY_TTL_S]
        if guard is not None:
            keys.append(f"{self._prefix}{room_id}:v:{guard.name}")
            args[1], args[2] = guard.expected, guard.new
        args.extend(envelope_tail(t, d) for t, d in events)
        out = await self._script(keys=keys, args=args)
        if int(out[0]) == 0:
            return None
        return [int(s) for s in out[1:]]

    async def direct(self, room_id: str, to: Address, message: dict[str, Any]) -> None:
        await self._redis.publish(self._d(room_id), json.dumps({"to": str(to), "msg": message}))

    async def get_value(self, room_id: str, name: str) -> str | None:
        raw = await self._redis.get(f"{self._prefix}{room_id}:v:{name}")
        return raw.decode() if isinstance(raw, bytes) else raw

    async def current_seq(self, room_id: str) -> int:
        raw = await self._redis.get(f"{self._prefix}{room_id}:seq")
        return int(raw or 0)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
        if self._pubsub is not None:
            await self._pubsub.aclose()
