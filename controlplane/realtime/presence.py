"""Who is connected to a room, and the small shared facts about it (voice, browser, agent).

A user counts once however many sockets (tabs) they have. `add` says whether the user just came
online; `set_offline` says whether this caller is the one that took them offline, so exactly one
replica announces each join and each leave.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from controlplane.realtime.bus import KEY_TTL_S, room_tag
from controlplane.services.redis_client import RedisClient


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Presence(Protocol):
    async def add(self, room_id: str, conn_id: str, user_id: str) -> bool: ...

    async def add_many(self, room_id: str, conns: dict[str, str]) -> set[str]:
        """`add` for several sockets of one room at once (conn id -> user id), in one round
        trip; returns the users this brought online."""
        ...

    async def remove(self, room_id: str, conn_id: str, user_id: str) -> int:
        """Forget a socket; return how many sockets the user still has in the room."""
        ...

    async def conn_count(self, room_id: str, user_id: str) -> int: ...

    async def set_offline(self, room_id: str, user_id: str) -> bool: ...

    async def online(self, room_id: str) -> set[str]: ...

    async def set_voice(self, room_id: str, user_id: str, voice: dict[str, Any]) -> None: ...

    async def clear_voice(self, room_id: str, user_id: str) -> None: ...

    async def voices(self, room_id: str) -> dict[str, dict[str, Any]]: ...

    async def set_browser(self, room_id: str, status: dict[str, Any]) -> None: ...

    async def browser(self, room_id: str) -> dict[str, Any] | None: ...

    async def set_media(self, room_id: str, state: dict[str, Any]) -> None:
        """The agent's last `media.state` (relayed data), for `room.state` and `media.cmd`."""
        ...

    async def media(self, room_id: str) -> dict[str, Any] | None: ...

    async def set_tabs(self, room_id: str, tabs: dict[str, Any]) -> None:
        """The agent's last `tabs.state` (relayed data), for `room.state` and `tabs.*`."""
        ...

    async def tabs(self, room_id: str) -> dict[str, Any] | None: ...

    async def set_agent(
        self, room_id: str, owner: str | None, *, only_if: str | None = None
    ) -> None:
        """Record which socket serves the room's agent (None = none). With `only_if`, clear only
        when the current owner is still that one (a newer agent socket may have replaced it)."""
        ...

    async def keep_agent(self, room_id: str, owner: str) -> bool:
        """Re-assert `owner` as the socket serving the room's agent unless another one holds
        it (a newer connection elsewhere wins); True when it was absent (lost, or swept) and is
        set again."""
        ...

    async def agent(self, room_id: str) -> str | None: ...

    async def conns(self, room_id: str) -> dict[str, str]:
        """Every socket counted in the room: conn id -> user id."""
        ...

    async def mark_alive(self, instance: str, ttl_s: float) -> None:
        """This API process is up for `ttl_s` more seconds (it renews well before)."""
        ...

    async def alive(self, instances: set[str]) -> set[str]:
        """Which of these API processes are up (the others crashed or were killed)."""
        ...


class MemoryPresence:
    """One process holds everything: if it is down, so is this; every instance is alive."""

    def __init__(self) -> None:
        self._conns: dict[str, dict[str, str]] = {}
        self._online: dict[str, set[str]] = {}
        self._voice: dict[str, dict[str, dict[str, Any]]] = {}
        self._browser: dict[str, dict[str, Any]] = {}
        self._media: dict[str, dict[str, Any]] = {}
        self._tabs: dict[str, dict[str, Any]] = {}
        self._agent: dict[str, str] = {}

    async def add(self, room_id: str, conn_id: str, user_id: str) -> bool:
        return user_id in await self.add_many(room_id, {conn_id: user_id})

    async def add_many(self, room_id: str, conns: dict[str, str]) -> set[str]:
        self._conns.setdefault(room_id, {}).update(conns)
        online = self._online.setdefault(room_id, set())
        came = set(conns.values()) - online
        online |= came
        return came

    async def remove(self, room_id: str, conn_id: str, user_id: str) -> int:
        conns = self._conns.get(room_id, {})
        conns.pop(conn_id, None)
        return sum(1 for u in conns.values() if u == user_id)

    async def conn_count(self, room_id: str, user_id: str) -> int:
        return sum(1 for u in self._conns.get(room_id, {}).values() if u == user_id)

    async def set_offline(self, room_id: str, user_id: str) -> bool:
        online = self._online.get(room_id, set())
        if user_id in online:
            online.discard(user_id)
            self._voice.get(room_id, {}).pop(user_id, None)
            return True
        return False

    async def online(self, room_id: str) -> set[str]:
        return set(self._online.get(room_id, set()))

    async def set_voice(self, room_id: str, user_id: str, voice: dict[str, Any]) -> None:
        self._voice.setdefault(room_id, {})[user_id] = voice

    async def clear_voice(self, room_id: str, user_id: str) -> None:
        self._voice.get(room_id, {}).pop(user_id, None)

    async def voices(self, room_id: str) -> dict[str, dict[str, Any]]:
        return dict(self._voice.get(room_id, {}))

    async def set_browser(self, room_id: str, status: dict[str, Any]) -> None:
        self._browser[room_id] = status

    async def browser(self, room_id: str) -> dict[str, Any] | None:
        return self._browser.get(room_id)

    async def set_media(self, room_id: str, state: dict[str, Any]) -> None:
        self._media[room_id] = state

    async def media(self, room_id: str) -> dict[str, Any] | None:
        return self._media.get(room_id)

    async def set_tabs(self, room_id: str, tabs: dict[str, Any]) -> None:
        self._tabs[room_id] = tabs

    async def tabs(self, room_id: str) -> dict[str, Any] | None:
        return self._tabs.get(room_id)

    async def set_agent(
        self, room_id: str, owner: str | None, *, only_if: str | None = None
    ) -> None:
        if owner is None:
            if only_if is None or self._agent.get(room_id) == only_if:
                self._agent.pop(room_id, None)
        else:
            self._agent[room_id] = owner

    async def keep_agent(self, room_id: str, owner: str) -> bool:
        if room_id in self._agent:
            return False
        self._agent[room_id] = owner
        return True

    async def agent(self, room_id: str) -> str | None:
        return self._agent.get(room_id)

    async def conns(self, room_id: str) -> dict[str, str]:
        return dict(self._conns.get(room_id, {}))

    async def mark_alive(self, instance: str, ttl_s: float) -> None:
        return None

    async def alive(self, instances: set[str]) -> set[str]:
        return set(instances)


_CLEAR_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# 1: set (it was absent); 0: kept (already ours, TTL renewed); -1: another socket holds it.
_KEEP = """
local cur = redis.call('GET', KEYS[1])
if cur == false then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1 end
if cur == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) return 0 end
return -1
"""


# KEYS: the room's conns hash and online set; ARGV: the TTL, then conn id, user id pairs.
# Returns, per pair, 1 where that pair brought its user online (the user's first socket in the
# room). One script rather than MULTI: atomic on one Redis and on a cluster alike (redis-py's
# cluster transactions queue each command through a thread and event loop of its own).
_ADD = """
local out = {}
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  out[#out + 1] = redis.call('SADD', KEYS[2], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return out
"""


class RedisPresence:
    """Presence on Redis. A room's keys (`wp:room:{<id>}:conns`, `:online`, `:voice`,
    `:browser`, `:media`, `:agent`) share the room's hash tag, so the script that adds a socket
    touches one slot on a cluster. Liveness marks (`wp:instance:<id>`) are one key each,
    read by a pipeline of single-key GETs (split by node on a cluster)."""

    def __init__(self, redis: RedisClient, *, prefix: str = "wp:room:") -> None:
        self._r = redis
        self._p = prefix
        self._clear_if = redis.register_script(_CLEAR_IF)
        self._keep = redis.register_script(_KEEP)
        self._add = redis.register_script(_ADD)

    def _k(self, room_id: str, name: str) -> str:
        return f"{room_tag(self._p, room_id)}:{name}"

    async def add(self, room_id: str, conn_id: str, user_id: str) -> bool:
        return user_id in await self.add_many(room_id, {conn_id: user_id})

    async def add_many(self, room_id: str, conns: dict[str, str]) -> set[str]:
        if not conns:
            return set()
        keys = [self._k(room_id, "conns"), self._k(room_id, "online")]
        pairs = list(conns.items())
        args: list[str | int] = [KEY_TTL_S]
        for conn_id, user_id in pairs:
            args += [conn_id, user_id]
        added = await self._add(keys=keys, args=args)
        return {user for (_, user), a in zip(pairs, added, strict=True) if int(a) == 1}

    async def remove(self, room_id: str, conn_id: str, user_id: str) -> int:
        await self._r.hdel(self._k(room_id, "conns"), conn_id)
        return await self.conn_count(room_id, user_id)

    async def conn_count(self, room_id: str, user_id: str) -> int:
        values = await self._r.hvals(self._k(room_id, "conns"))
        return sum(1 for v in values if _s(v) == user_id)

    async def set_offline(self, room_id: str, user_id: str) -> bool:
        removed = await self._r.srem(self._k(room_id, "online"), user_id)
        if removed:
            await self._r.hdel(self._k(room_id, "voice"), user_id)
        return int(removed) == 1

    async def online(self, room_id: str) -> set[str]:
        return {_s(m) for m in await self._r.smembers(self._k(room_id, "online"))}

    async def set_voice(self, room_id: str, user_id: str, voice: dict[str, Any]) -> None:
        key = self._k(room_id, "voice")
        await self._r.hset(key, user_id, json.dumps(voice))
        await self._r.expire(key, KEY_TTL_S)

    async def clear_voice(self, room_id: str, user_id: str) -> None:
        await self._r.hdel(self._k(room_id, "voice"), user_id)

    async def voices(self, room_id: str) -> dict[str, dict[str, Any]]:
        raw = await self._r.hgetall(self._k(room_id, "voice"))
        return {_s(k): json.loads(v) for k, v in raw.items()}

    async def set_browser(self, room_id: str, status: dict[str, Any]) -> None:
        await self._r.set(self._k(room_id, "browser"), json.dumps(status), ex=KEY_TTL_S)

    async def browser(self, room_id: str) -> dict[str, Any] | None:
        raw = await self._r.get(self._k(room_id, "browser"))
        return json.loads(raw) if raw else None

    async def set_media(self, room_id: str, state: dict[str, Any]) -> None:
        await self._r.set(self._k(room_id, "media"), json.dumps(state), ex=KEY_TTL_S)

    async def media(self, room_id: str) -> dict[str, Any] | None:
        raw = await self._r.get(self._k(room_id, "media"))
        return json.loads(raw) if raw else None

    async def set_tabs(self, room_id: str, tabs: dict[str, Any]) -> None:
        await self._r.set(self._k(room_id, "tabs"), json.dumps(tabs), ex=KEY_TTL_S)

    async def tabs(self, room_id: str) -> dict[str, Any] | None:
        raw = await self._r.get(self._k(room_id, "tabs"))
        return json.loads(raw) if raw else None

    async def set_agent(
        self, room_id: str, owner: str | None, *, only_if: str | None = None
    ) -> None:
        key = self._k(room_id, "agent")
        if owner is not None:
            await self._r.set(key, owner, ex=KEY_TTL_S)
        elif only_if is not None:
            await self._clear_if(keys=[key], args=[only_if])
        else:
            await self._r.delete(key)

    async def keep_agent(self, room_id: str, owner: str) -> bool:
        return int(await self._keep(keys=[self._k(room_id, "agent")], args=[owner, KEY_TTL_S])) == 1

    async def agent(self, room_id: str) -> str | None:
        raw = await self._r.get(self._k(room_id, "agent"))
        return _s(raw) if raw else None

    async def conns(self, room_id: str) -> dict[str, str]:
        raw = await self._r.hgetall(self._k(room_id, "conns"))
        return {_s(k): _s(v) for k, v in raw.items()}

    def _instance_key(self, instance: str) -> str:
        return f"wp:instance:{instance}"

    async def mark_alive(self, instance: str, ttl_s: float) -> None:
        await self._r.set(self._instance_key(instance), "1", px=int(ttl_s * 1000))

    async def alive(self, instances: set[str]) -> set[str]:
        ordered = sorted(instances)
        if not ordered:
            return set()
        async with self._r.pipeline(transaction=False) as pipe:
            for i in ordered:
                pipe.get(self._instance_key(i))
            found = await pipe.execute()
        return {i for i, v in zip(ordered, found, strict=True) if v is not None}
