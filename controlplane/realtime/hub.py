"""The per-process room hub: the sockets this replica holds, the bus that joins replicas, and
this process's liveness mark. It implements `RoomEvents`, the door services use to tell a room
something, and `RoomIO`, the one handlers use.
Broadcasts go out through the bus (which numbers them) and come back in through `_on_bus`, on
every replica alike, so a client on replica A and one on replica B see the same stream. Shared
facts (presence, remote holder, browser status, which socket serves the agent) live in the
presence store and the bus's guarded values, never only in this process. What a message does
is in `client_handlers.py` (room sockets) and `agent_channel.py` (the agent); serving one socket
from its first frame to its clean-up is `client_session.py` and `agent_session.py`, on top of the
registry kept here (moved elsewhere by `drain.py` when the process stops). The hub also
implements `Liveness`, the reaper's port to the sockets of API processes that died.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import WebSocket
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from watchparty_wire.agent import AgentRemoteChanged, AgentRoomSettings, PeerClosed, RoomAssigned
from watchparty_wire.envelope import Outbound
from watchparty_wire.room import (
    ChatCleared,
    HostChanged,
    ParticipantRemoved,
    PresenceJoined,
    PresenceLeft,
    RoomEnded,
    RoomSettingsOut,
    RoomWarning,
)

from controlplane.auth.access import AccessCheck
from controlplane.errors import DomainError, Kind
from controlplane.models import RoomStatus
from controlplane.ports import StatusNews
from controlplane.realtime.agent_channel import AgentChannel
from controlplane.realtime.agent_media import AgentMedia
from controlplane.realtime.bus import AGENT, Address, Bus, Guard, now_iso
from controlplane.realtime.client_handlers import ClientHandlers
from controlplane.realtime.connections import (
    CLOSE_ENDED,
    CLOSE_FORBIDDEN,
    CLOSE_LEFT,
    CLOSE_REPLACED,
    CLOSE_UNAUTHENTICATED,
    AgentConn,
    ClientConn,
    Outbox,
    OutboxLimits,
)
from controlplane.realtime.presence import Presence
from controlplane.realtime.remote import RemoteState, Transition, apply, back_to_host
from controlplane.realtime.together import Together
from controlplane.rooms import queries
from controlplane.services.ratelimit import RateLimiter
from controlplane.settings import Settings
from controlplane.shutdown import cancel_all, within

log = logging.getLogger(__name__)

# This process renews its liveness mark this often; others treat it as crashed once the mark
# expires, and the reaper then removes its sockets from presence (they can no longer leave).
INSTANCE_HEARTBEAT_S = 10.0
INSTANCE_TTL_S = 30.0
REMOTE_RETRIES = 50


class Hub:
    def __init__(
        self,
        *,
        settings: Settings,
        bus: Bus,
        presence: Presence,
        sessionmaker: async_sessionmaker[AsyncSession],
        rate_limiter: RateLimiter,
        engine: AsyncEngine,
        access: AccessCheck | None = None,
    ) -> None:
        self.settings = settings
        # None: sockets are not re-checked after their first frame (unit tests' hubs).
        self.access = access
        self.bus = bus
        self.presence = presence
        self.sessionmaker = sessionmaker
        self.instance = uuid.uuid4().hex[:12]
        self._limits = OutboxLimits(
            max_messages=settings.ROOM_WS_OUTBOX_MAX_MESSAGES,
            max_bytes=settings.ROOM_WS_OUTBOX_MAX_BYTES,
            stall_s=settings.ROOM_WS_STALL_SECONDS,
        )
        self._rooms: dict[str, dict[str, ClientConn]] = {}
        self._agents: dict[str, AgentConn] = {}
        self._last_seq: dict[str, int] = {}
        self._subs: dict[str, int] = {}
        self._sub_locks: dict[str, asyncio.Lock] = {}
        # Per room: a socket's presence entry is written back (`_reassert`) and removed at its
        # close (`forget_conn`, `agent_session._after_agent`) one at a time, so a write-back
        # that raced a close can never leave a closed socket counted.
        self._presence_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.together = together = Together(
            io=self,
            settings=settings,
            presence=presence,
            sessionmaker=sessionmaker,
            rate_limiter=rate_limiter,
            engine=engine,
        )
        self.handlers = ClientHandlers(
            io=self,
            settings=settings,
            presence=presence,
            sessionmaker=sessionmaker,
            engine=engine,
            rate_limiter=rate_limiter,
            together=together,
        )
        self.agent_channel = AgentChannel(
            io=self,
            events=self,
            presence=presence,
            sessionmaker=sessionmaker,
            together=together,
            clipfiles=self.handlers.clipfiles,
            state_interval_s=settings.ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS,
        )
        bus.set_handler(self._on_bus)

    # ---------------------------------------------------------------- lifecycle and liveness

    async def start(self) -> None:
        await self.bus.start()
        # Before any socket is served (a sweep must not take this process for a dead one); a
        # Redis that is down now is /readyz's news, not a reason to refuse to start.
        await self._mark_alive()
        self.spawn(self._instance_heartbeat(), "hub-instance-heartbeat")

    async def _mark_alive(self) -> None:
        try:
            await self.presence.mark_alive(self.instance, INSTANCE_TTL_S)
        except Exception as exc:
            log.warning(
                "instance heartbeat failed", extra={"instance": self.instance, "error": repr(exc)}
            )

    async def _instance_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(INSTANCE_HEARTBEAT_S)
            await self._mark_alive()
            try:
                await self._reassert()
            except Exception as exc:
                log.warning(
                    "presence refresh failed", extra={"instance": self.instance, "error": repr(exc)}
                )

    def presence_lock(self, room_id: str) -> asyncio.Lock:
        return self._presence_locks.setdefault(room_id, asyncio.Lock())

    async def _reassert(self) -> None:
        """Write this process's live sockets back into presence, every heartbeat. Presence is
        otherwise written once, at connect: after Redis lost its data (a restart without
        persistence), or after another process swept this one's sockets (its liveness mark
        expired while it was cut off from Redis), rooms with people in them would look empty
        (and be reaped as idle) and their agent unreachable. Users this brings back online are
        announced (`presence.joined`), an agent it brings back too (`room.status`). Costs one
        Redis round trip per room per INSTANCE_HEARTBEAT_S (one per socket made it 500 a second
        at 5,000 sockets: docs/performance.md, "Sockets per API process")."""
        for room_id in list(self._rooms):
            async with self.presence_lock(room_id):
                # The sockets still open, read under the lock their close's clean-up takes.
                conns = {c.id: c for c in self._rooms.get(room_id, {}).values()}
                back = await self.presence.add_many(
                    room_id, {cid: c.user_id for cid, c in conns.items()}
                )
            names = {c.user_id: c.username for c in conns.values()}
            for user_id in sorted(back):
                joined = PresenceJoined(user_id=user_id, username=names[user_id])
                await self.broadcast(room_id, joined)
        for room_id, agent in list(self._agents.items()):
            async with self.presence_lock(room_id):
                if self._agents.get(room_id) is not agent:
                    continue
                regained = await self.presence.keep_agent(room_id, agent.id)
            if regained:
                await self.announce_agent(room_id, connected=True)

    async def aclose(self) -> None:
        """Stop the hub's tasks (heartbeat, socket clean-ups) and the bus, each bounded by
        SHUTDOWN_TIMEOUT_SECONDS: a task stuck on a cut-off Redis is left behind."""
        timeout_s = self.settings.SHUTDOWN_TIMEOUT_SECONDS
        self.handlers.typing.cancel_all()
        self.together.lines.cancel_all()
        await cancel_all(list(self._tasks), timeout_s, name="hub tasks")
        await within(timeout_s, self.bus.aclose(), name="bus")

    def spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def open_sockets(self) -> tuple[list[ClientConn], list[AgentConn]]:
        """This process's room and agent sockets (for /metrics; `drain.py` moves them away)."""
        return [c for cs in self._rooms.values() for c in cs.values()], list(self._agents.values())

    def cleanups(self) -> list[asyncio.Task[Any]]:
        """Closed sockets' clean-ups still running (presence, the remote, the agent's peer)."""
        return [t for t in self._tasks if t.get_name().startswith(("ws-clean", "agent-clean"))]

    def agent_media(self) -> dict[str, AgentMedia]:
        """Each connected agent's last media figures, by room id (for /metrics)."""
        return {room: a.media for room, a in self._agents.items() if a.media is not None}

    def socket_id(self) -> str:
        # The instance prefix tells whose socket it is once that process is gone.
        return f"{self.instance}.{uuid.uuid4().hex[:16]}"

    # ---------------------------------------------------------------- registry
    # The sockets this process holds, by room, and the bus subscription each room needs while
    # it has one here. Sockets are served by `client_session.py` and `agent_session.py`.

    def outbox(self, ws: WebSocket) -> Outbox:
        """A new socket's outbox, bounded by the ROOM_WS_OUTBOX_* and stall settings."""
        return Outbox(ws, self._limits)

    async def add_client(self, conn: ClientConn) -> None:
        await self._attach(conn.room_id)
        self._rooms.setdefault(conn.room_id, {})[conn.id] = conn

    def drop_client(self, conn: ClientConn) -> None:
        """Out of the registry (it gets no more deliveries); its bus subscription is released
        by its clean-up (`detach`)."""
        self._rooms.get(conn.room_id, {}).pop(conn.id, None)
        if not self._rooms.get(conn.room_id):
            self._rooms.pop(conn.room_id, None)

    async def add_agent(self, agent: AgentConn) -> None:
        """The room's agent socket on this process; an older one is closed (4409)."""
        old = self._agents.get(agent.room_id)
        if old is not None:
            old.outbox.close(CLOSE_REPLACED, "replaced by a newer agent connection")
        await self._attach(agent.room_id)
        self._agents[agent.room_id] = agent

    def drop_agent(self, agent: AgentConn) -> None:
        if self._agents.get(agent.room_id) is agent:
            self._agents.pop(agent.room_id, None)

    async def _attach(self, room_id: str) -> None:
        lock = self._sub_locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            count = self._subs.get(room_id, 0)
            if count == 0:
                await self.bus.subscribe(room_id)
            self._subs[room_id] = count + 1

    async def detach(self, room_id: str) -> None:
        lock = self._sub_locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            count = self._subs.get(room_id, 0) - 1
            if count <= 0:
                self._subs.pop(room_id, None)
                self._last_seq.pop(room_id, None)
                presence_lock = self._presence_locks.get(room_id)
                if presence_lock is not None and not presence_lock.locked():
                    self._presence_locks.pop(room_id, None)
                await self.bus.unsubscribe(room_id)
            else:
                self._subs[room_id] = count

    # ---------------------------------------------------------------- RoomIO: sending

    async def broadcast(self, room_id: uuid.UUID | str, msg: Outbound) -> int:
        seqs = await self.bus.publish(str(room_id), [msg.event()])
        assert seqs is not None
        return seqs[0]

    async def direct(self, room_id: str, to: Address, msg: Outbound) -> None:
        await self.bus.direct(room_id, to, {"type": msg.TYPE, "data": msg.data()})

    def _direct_payload(self, room_id: str, type_: str, data: dict[str, Any]) -> str:
        seq = self._last_seq.get(room_id, 0)
        return json.dumps({"seq": seq, "type": type_, "data": data, "ts": now_iso()})

    def reply(self, conn: ClientConn, msg: Outbound) -> None:
        conn.deliver(self._direct_payload(conn.room_id, msg.TYPE, msg.data()), None)

    # ---------------------------------------------------------------- bus delivery

    def _on_bus(self, room_id: str, kind: str, payload: str) -> None:
        if kind == "b":
            self._deliver_broadcast(room_id, payload)
            return
        d = json.loads(payload)
        to, inner = Address.parse(str(d["to"])), d["msg"]
        if to is None:
            return
        conns = self._rooms.get(room_id, {})
        if to == AGENT:
            agent = self._agents.get(room_id)
            if agent is not None:
                agent.outbox.put(json.dumps(inner))
            return
        out = self._direct_payload(room_id, inner["type"], inner.get("data", {}))
        if to.kind == "user":
            for conn in list(conns.values()):
                if conn.user_id == to.id:
                    conn.deliver(out, None)
        else:
            conn_opt = conns.get(to.id)
            if conn_opt is not None:
                conn_opt.deliver(out, None)

    def _deliver_broadcast(self, room_id: str, payload: str) -> None:
        """Every socket of the room on this process gets it; some also act on it here."""
        conns = self._rooms.get(room_id, {})
        agent = self._agents.get(room_id)
        msg = json.loads(payload)
        seq, type_ = int(msg["seq"]), msg["type"]
        if seq > self._last_seq.get(room_id, 0):
            self._last_seq[room_id] = seq
        for conn in list(conns.values()):
            conn.deliver(payload, seq)
        data = msg.get("data") or {}
        if type_ == "remote.changed" and agent is not None:
            agent.send(AgentRemoteChanged(holder_id=data.get("holder_id")))
        elif type_ == "participant.removed":
            code = CLOSE_FORBIDDEN if data.get("reason") == "kicked" else CLOSE_LEFT
            for conn in list(conns.values()):
                if conn.user_id == data.get("user_id"):
                    conn.outbox.close(code, str(data.get("reason", "")))
        elif type_ == "room.ended":
            for conn in list(conns.values()):
                conn.outbox.close(CLOSE_ENDED, "room ended")
            if agent is not None:
                agent.send(RoomEnded.model_validate(data))
                agent.outbox.close(CLOSE_ENDED, "room ended")

    # ---------------------------------------------------------------- RoomIO: the remote

    async def remote_state(self, room_id: str) -> tuple[str, RemoteState]:
        raw = await self.bus.get_value(room_id, "remote")
        if raw:
            return raw, RemoteState.from_json(raw)
        async with self.sessionmaker() as s:
            host = await queries.host_of(session=s, room_id=uuid.UUID(room_id))
        return "", RemoteState.initial(host)

    async def remote_transact(
        self, room_id: str, step: Callable[[RemoteState], Transition]
    ) -> Transition:
        """Read, step the pure machine, compare-and-set + broadcast atomically; retry on a race."""
        for _ in range(REMOTE_RETRIES):
            raw, state = await self.remote_state(room_id)
            tr = step(state)
            if tr.state == state and raw:
                if tr.events:
                    await self.bus.publish(room_id, tr.events)
                return tr
            guard = Guard("remote", raw, tr.state.to_json())
            if await self.bus.publish(room_id, tr.events, guard=guard) is not None:
                return tr
        raise DomainError(Kind.conflict, "busy", "The remote is changing hands too fast; try again")

    # ---------------------------------------------------------------- RoomEvents

    async def status_changed(self, room_id: uuid.UUID, news: StatusNews) -> None:
        await self.broadcast(room_id, news.message())

    async def participant_removed(
        self, room_id: uuid.UUID, *, user_id: str, reason: Literal["left", "kicked"], by: str
    ) -> None:
        rid = str(room_id)
        why = "holder_kicked" if reason == "kicked" else "holder_left"
        await self.remote_transact(rid, lambda s: apply(s, "left", actor=user_id, reason=why))
        await self.broadcast(rid, ParticipantRemoved(user_id=user_id, reason=reason, by=by))

    async def room_ended(self, room_id: uuid.UUID, *, by: str | None, reason: str) -> None:
        await self.broadcast(room_id, RoomEnded(reason=reason, by=by))

    async def room_assigned(
        self, room_id: uuid.UUID, *, start_url: str | None, keep: bool, block_ads: bool = True
    ) -> None:
        """A warm-pool browser became a room: its agent wipes the profile, loads the host's
        saved one (`keep`), the start URL, takes input from the new host and blocks ads or not
        (docs/protocol.md)."""
        _, remote = await self.remote_state(rid := str(room_id))
        holder = remote.holder_id or None
        assigned = RoomAssigned(
            start_url=start_url, holder_id=holder, keep_profile=keep, block_ads=block_ads
        )
        await self.direct(rid, AGENT, assigned)

    async def host_changed(
        self, room_id: uuid.UUID, *, host_id: str, previous: str, by: str
    ) -> None:
        rid = str(room_id)
        await self.remote_transact(rid, lambda s: apply(s, "host_changed", actor=host_id))
        await self.broadcast(rid, HostChanged(host_id=host_id, previous_host_id=previous, by=by))

    async def chat_cleared(self, room_id: uuid.UUID, *, by: str) -> None:
        await self.broadcast(room_id, ChatCleared(by=by))

    async def settings_changed(self, room_id: uuid.UUID, *, settings: dict[str, bool]) -> None:
        await self.broadcast(room_id, RoomSettingsOut(**settings))
        # The agent applies `block_ads` at once, wherever it is connected.
        await self.direct(str(room_id), AGENT, AgentRoomSettings(block_ads=settings["block_ads"]))
        if settings.get("keep_profile") and not settings.get("profile_others_drive"):
            # Nobody but the host may drive their signed-in browser now: back to the host.
            await self.remote_transact(str(room_id), back_to_host)

    async def warned(self, room_id: uuid.UUID, *, ends_at: datetime, seconds_left: int) -> None:
        detail = f"This room ends in {seconds_left} s: it reached its maximum length"
        warning = RoomWarning(
            code="max_age", ends_at=ends_at.isoformat(), seconds_left=seconds_left, detail=detail
        )
        await self.broadcast(room_id, warning)

    # ------------------------------------------------------------ sockets' access and departures

    async def reauthenticate(self, conn: ClientConn, token: str) -> None:
        """An `auth` frame on an open socket: a valid token of the same user extends it; any
        other token closes it (4401)."""
        if self.access is None:
            return
        verified = await self.access.verify(token)
        if verified is None or str(verified[0].user_id) != conn.user_id:
            conn.outbox.close(CLOSE_UNAUTHENTICATED, "invalid or expired token")
            return
        conn.claims = verified[0]

    async def forget_conn(self, room_id: str, conn_id: str, user_id: str, *, grace: float) -> None:
        """A socket is gone: the agent closes its peer; its user goes offline (after `grace`, if
        no other socket of theirs came meanwhile) and gives up the remote."""
        async with self.presence_lock(room_id):
            remaining = await self.presence.remove(room_id, conn_id, user_id)
        await self.direct(room_id, AGENT, PeerClosed(conn=conn_id))
        if remaining:
            return
        await self.handlers.typing.stop(room_id, user_id, announce=True)
        if grace:
            await asyncio.sleep(grace)
        if await self.presence.conn_count(room_id, user_id) > 0:
            return
        if await self.presence.set_offline(room_id, user_id):
            await self.broadcast(room_id, PresenceLeft(user_id=user_id))
            await self.remote_transact(
                room_id, lambda s: apply(s, "left", actor=user_id, reason="holder_left")
            )

    async def reap_dead_instances(self, room_id: str) -> list[str]:
        """Forget the sockets (and agent socket) that API processes which died held in this
        room: nobody else would ever take them offline. Returns the conn ids removed."""
        conns = await self.presence.conns(room_id)
        owner = await self.presence.agent(room_id)
        instances = {_instance_of(c) for c in [*conns, owner or ""]} - {""}
        if not instances:
            return []
        dead = instances - await self.presence.alive(instances)
        if not dead:
            return []
        gone = [c for c in conns if _instance_of(c) in dead]
        for conn_id in gone:
            await self.forget_conn(room_id, conn_id, conns[conn_id], grace=0)
        if owner and _instance_of(owner) in dead:
            await self.presence.set_agent(room_id, None, only_if=owner)
            if await self.presence.agent(room_id) is None:
                await self.announce_agent(room_id, connected=False)
        log.warning(
            "removed sockets of crashed API processes",
            extra={"room": room_id, "instances": sorted(dead), "conns": len(gone)},
        )
        return gone

    async def announce_agent(self, room_id: str, *, connected: bool) -> None:
        async with self.sessionmaker() as s:
            status = await queries.status_of(session=s, room_id=uuid.UUID(room_id))
        if status not in (None, RoomStatus.ended, RoomStatus.ending):
            assert status is not None
            news = StatusNews(status=status, agent_connected=connected)
            await self.broadcast(room_id, news.message())


def _instance_of(socket_id: str) -> str:
    """The API process a room or agent socket id belongs to ("" for ids without one)."""
    instance, sep, _ = socket_id.partition(".")
    return instance if sep else ""
