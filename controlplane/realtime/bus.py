"""The room bus: every replica sees every room broadcast, in one order, with a gap-free `seq`.

A broadcast is numbered when it is published (Redis: INCR and SPUBLISH in one script, so the
numbering order is the delivery order on every subscriber). A publish can be guarded by a
compare-and-set on a small per-room value (the remote-control state), so a state change and the
events announcing it are one atomic step across replicas.

Direct messages (to one user, one socket, or the room's agent) ride the same per-room
subscription and carry no `seq` of their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from controlplane.realtime.remote import Event
from controlplane.realtime.shard_channels import ShardChannels, topology_for
from controlplane.services.redis_client import RedisClient

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


# KEYS[1] the room's seq, KEYS[2] (optional) the guarded value; ARGV[1] the room's broadcast
# channel. Keys and channel carry the room id as hash tag, so on a cluster they share one slot
# and SPUBLISH reaches that slot's node's subscribers only.
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
  redis.call('SPUBLISH', ARGV[1], '{"seq":' .. s .. ',' .. ARGV[i])
  out[#out + 1] = s
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return out
"""


def room_tag(prefix: str, room_id: str) -> str:
    """`wp:room:{<id>}`: the room's keys and channels start with this, the id being their hash
    tag (one slot per room on a cluster)."""
    return f"{prefix}{{{room_id}}}"


class RedisBus:
    """The bus on Redis: broadcasts numbered and published by one script, channels sharded
    (`SSUBSCRIBE`, `shard_channels.py`), on one Redis or a cluster alike."""

    def __init__(self, redis: RedisClient, *, prefix: str = "wp:room:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_PUBLISH_SCRIPT)
        self._handler: Handler = lambda room_id, kind, payload: None
        self.channels = ShardChannels(topology_for(redis), self._on_message)

    def _b(self, room_id: str) -> str:
        return room_tag(self._prefix, room_id)

    def _d(self, room_id: str) -> str:
        return room_tag(self._prefix, room_id) + ":d"

    def set_handler(self, handler: Handler) -> None:
        self._handler = handler

    async def start(self) -> None:
        # Nothing to open yet: a node's pub/sub connection opens with its first room.
        return None

    def _on_message(self, channel: str, data: bytes) -> None:
        name = channel[len(self._prefix) :]
        kind = "b"
        if name.endswith(":d"):
            name, kind = name[:-2], "d"
        room_id = name.strip("{}")
        try:
            self._handler(room_id, kind, data.decode())
        except Exception:
            log.exception("bus handler failed", extra={"room": room_id})

    async def subscribe(self, room_id: str) -> None:
        await self.channels.subscribe([self._b(room_id), self._d(room_id)])

    async def unsubscribe(self, room_id: str) -> None:
        await self.channels.unsubscribe([self._b(room_id), self._d(room_id)])

    async def publish(
        self, room_id: str, events: list[Event], *, guard: Guard | None = None
    ) -> list[int] | None:
        tag = room_tag(self._prefix, room_id)
        keys = [f"{tag}:seq"]
        args: list[str | int] = [self._b(room_id), "", "", KEY_TTL_S]
        if guard is not None:
            keys.append(f"{tag}:v:{guard.name}")
            args[1], args[2] = guard.expected, guard.new
        args.extend(envelope_tail(t, d) for t, d in events)
        out = await self._script(keys=keys, args=args)
        if int(out[0]) == 0:
            return None
        return [int(s) for s in out[1:]]

    async def direct(self, room_id: str, to: Address, message: dict[str, Any]) -> None:
        await self._redis.spublish(self._d(room_id), json.dumps({"to": str(to), "msg": message}))

    async def get_value(self, room_id: str, name: str) -> str | None:
        raw = await self._redis.get(f"{room_tag(self._prefix, room_id)}:v:{name}")
        return raw.decode() if isinstance(raw, bytes) else raw

    async def current_seq(self, room_id: str) -> int:
        raw = await self._redis.get(f"{room_tag(self._prefix, room_id)}:seq")
        return int(raw or 0)

    async def aclose(self) -> None:
        await self.channels.aclose()
