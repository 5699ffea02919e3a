"""The per-process room hub: the sockets this replica holds, the bus that joins replicas, and
this process's liveness mark. It implements `RoomEvents`, the door services use to tell a room
something, and `RoomIO`, the one handlers use.

Broadcasts go out through the bus (which numbers them) and come back in through `_on_bus`, on
every replica alike, so a client on replica A and one on replica B see the same stream. Shared
facts (presence, remote holder, browser status, which socket serves the agent) live in the
presence store and the bus's guarded values, never only in this process. What a message does
is in `client_handlers.py` (room sockets) and `agent_channel.py` (the agent).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from controlplane.auth.access import AccessCheck
from controlplane.auth.access_tokens import AccessClaims
from controlplane.errors import DomainError, Kind
from controlplane.models import Room, RoomStatus, User
from controlplane.realtime.agent_channel import AgentChannel
from controlplane.realtime.agent_media import AgentMedia
from controlplane.realtime.bus import AGENT, Address, Bus, Guard, now_iso
from controlplane.realtime.client_handlers import ClientHandlers
from controlplane.realtime.connections import (
    CLOSE_ENDED,
    CLOSE_FORBIDDEN,
    CLOSE_LEFT,
    CLOSE_NORMAL,
    CLOSE_REPLACED,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHENTICATED,
    AgentConn,
    ClientConn,
    Flood,
    Outbox,
    OutboxLimits,
)
from controlplane.realtime.outbound import (
    AgentError,
    AgentRemoteChanged,
    AuthOk,
    ChatCleared,
    ErrorOut,
    HostChanged,
    Outbound,
    ParticipantRemoved,
    PeerClosed,
    PeersSync,
    PresenceJoined,
    PresenceLeft,
    RoomAssigned,
    RoomEnded,
    RoomSettingsOut,
    RoomStatusData,
    RoomWarning,
)
from controlplane.realtime.presence import Presence
from controlplane.realtime.remote import RemoteState, Transition, apply
from controlplane.realtime.state_snapshot import room_state
from controlplane.realtime.system_lines import SystemLines
from controlplane.realtime.together import Together
from controlplane.rooms import queries
from controlplane.rooms.ice import ice_servers
from controlplane.rooms.lifecycle import StatusNews
from controlplane.services.ratelimit import RateLimiter
from controlplane.settings import Settings
from controlplane.shutdown import cancel_all, within

log = logging.getLogger(__name__)

# This process renews its liveness mark this often; others treat it as crashed once the mark
# expires, and the reaper then removes its sockets from presence (they can no longer leave).
INSTANCE_HEARTBEAT_S = 10.0
INSTANCE_TTL_S = 30.0
REMOTE_RETRIES = 50


def status_message(news: StatusNews) -> RoomStatusData:
    """The one `room.status` shape, from the lifecycle's news."""
    return RoomStatusData(
        status=news.status,
        stage=news.stage,
        agent_connected=news.agent_connected,
        reason=news.reason,
        video=news.video,
    )


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
        # close (`_forget_conn`, `_after_agent`) one at a time, so a write-back that raced a
        # close can never leave a closed socket counted.
        self._presence_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.lines = SystemLines(
            io=self, engine=engine, window_s=settings.ROOM_MEDIA_LINE_COALESCE_SECONDS
        )
        together = Together(
            io=self,
            settings=settings,
            presence=presence,
            sessionmaker=sessionmaker,
            rate_limiter=rate_limiter,
            lines=self.lines,
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
            state_interval_s=settings.ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS,
        )
        bus.set_handler(self._on_bus)

    # ---------------------------------------------------------------- lifecycle and liveness

    async def start(self) -> None:
        await self.bus.start()
        # Before any socket is served (a sweep must not take this process for a dead one); a
        # Redis that is down now is /readyz's news, not a reason to refuse to start.
        await self._mark_alive()
        self._spawn(self._instance_heartbeat(), "hub-instance-heartbeat")

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

    def _presence_lock(self, room_id: str) -> asyncio.Lock:
        return self._presence_locks.setdefault(room_id, asyncio.Lock())

    async def _reassert(self) -> None:
        """Write this process's live sockets back into presence, every heartbeat. Presence is
        otherwise written once, at connect: after Redis lost its data (a restart without
        persistence), or after another process swept this one's sockets (its liveness mark
        expired while it was cut off from Redis), rooms with people in them would look empty
        (and be reaped as idle) and their agent unreachable. Users this brings back online are
        announced (`presence.joined`), an agent it brings back too (`room.status`). Costs one
        Redis round trip per socket per INSTANCE_HEARTBEAT_S."""
        for room_id in list(self._rooms):
            async with self._presence_lock(room_id):
                back = []
                for conn in list(self._rooms.get(room_id, {}).values()):
                    # Still open (checked under the lock its close's clean-up takes).
                    if conn.id in self._rooms.get(room_id, {}):
                        if await self.presence.add(room_id, conn.id, conn.user_id):
                            back.append(conn)
            for conn in back:
                await self.broadcast(
                    room_id, PresenceJoined(user_id=conn.user_id, username=conn.username)
                )
        for room_id, agent in list(self._agents.items()):
            async with self._presence_lock(room_id):
                if self._agents.get(room_id) is not agent:
                    continue
                regained = await self.presence.keep_agent(room_id, agent.id)
            if regained:
                await self._announce_agent(room_id, connected=True)

    async def aclose(self) -> None:
        """Stop the hub's tasks (heartbeat, socket clean-ups) and the bus, each bounded by
        SHUTDOWN_TIMEOUT_SECONDS: a task stuck on a cut-off Redis is left behind."""
        timeout_s = self.settings.SHUTDOWN_TIMEOUT_SECONDS
        self.handlers.typing.cancel_all()
        self.lines.cancel_all()
        await cancel_all(list(self._tasks), timeout_s, name="hub tasks")
        await within(timeout_s, self.bus.aclose(), name="bus")

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def socket_counts(self) -> dict[str, int]:
        """Open sockets on this process (for /metrics)."""
        return {"room": sum(len(c) for c in self._rooms.values()), "agent": len(self._agents)}

    def agent_media(self) -> dict[str, AgentMedia]:
        """Each connected agent's last media figures, by room id (for /metrics)."""
        return {room: a.media for room, a in self._agents.items() if a.media is not None}

    def _socket_id(self) -> str:
        # The instance prefix tells whose socket it is once that process is gone.
        return f"{self.instance}.{uuid.uuid4().hex[:16]}"

    # ---------------------------------------------------------------- registry: bus subscriptions

    async def _attach(self, room_id: str) -> None:
        lock = self._sub_locks.setdefault(room_id, asyncio.Lock())
        async with lock:
            count = self._subs.get(room_id, 0)
            if count == 0:
                await self.bus.subscribe(room_id)
            self._subs[room_id] = count + 1

    async def _detach(self, room_id: str) -> None:
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
        await self.broadcast(room_id, status_message(news))

    async def participant_removed(
        self, room_id: uuid.UUID, *, user_id: str, reason: Literal["left", "kicked"], by: str
    ) -> None:
        rid = str(room_id)
        why = "holder_kicked" if reason == "kicked" else "holder_left"
        await self.remote_transact(rid, lambda s: apply(s, "left", actor=user_id, reason=why))
        await self.broadcast(rid, ParticipantRemoved(user_id=user_id, reason=reason, by=by))

    async def room_ended(self, room_id: uuid.UUID, *, by: str | None, reason: str) -> None:
        await self.broadcast(room_id, RoomEnded(reason=reason, by=by))

    async def room_assigned(self, room_id: uuid.UUID, *, start_url: str | None) -> None:
        """A warm-pool browser became a room: its agent wipes the profile, loads the start URL
        and takes input from the new host (docs/protocol.md)."""
        rid = str(room_id)
        _, remote = await self.remote_state(rid)
        assigned = RoomAssigned(start_url=start_url, holder_id=remote.holder_id or None)
        await self.direct(rid, AGENT, assigned)

    async def host_changed(
        self, room_id: uuid.UUID, *, host_id: str, previous: str, by: str
    ) -> None:
        rid = str(room_id)
        await self.remote_transact(rid, lambda s: apply(s, "host_changed", actor=host_id))
        await self.broadcast(rid, HostChanged(host_id=host_id, previous_host_id=previous, by=by))

    async def chat_cleared(self, room_id: uuid.UUID, *, by: str) -> None:
        await self.broadcast(room_id, ChatCleared(by=by))

    async def settings_changed(
        self, room_id: uuid.UUID, *, anyone_can_pause: bool, queue_host_only: bool
    ) -> None:
        settings = RoomSettingsOut(
            anyone_can_pause=anyone_can_pause, queue_host_only=queue_host_only
        )
        await self.broadcast(room_id, settings)

    async def warned(self, room_id: uuid.UUID, *, ends_at: datetime, seconds_left: int) -> None:
        detail = f"This room ends in {seconds_left} s: it reached its maximum length"
        warning = RoomWarning(
            code="max_age", ends_at=ends_at.isoformat(), seconds_left=seconds_left, detail=detail
        )
        await self.broadcast(room_id, warning)

    # ---------------------------------------------------------------- client sockets

    async def serve_client(
        self, ws: WebSocket, room: Room, user: User, claims: AccessClaims | None = None
    ) -> None:
        """Serve one authenticated member's socket until it ends. Raises `DomainError` before
        anything is registered when the user already has too many sockets in the room.
        `claims` (the token's) are re-checked while it is open (`_watch_auth`)."""
        room_id, uid = str(room.id), str(user.id)
        cap = self.settings.ROOM_MAX_SOCKETS_PER_USER
        # Counted across replicas (presence); two sockets racing past the check together can
        # exceed the cap by one each: it bounds a flood, it is not an exact quota.
        if await self.presence.conn_count(room_id, uid) >= cap:
            raise DomainError(
                Kind.rate_limited,
                "too_many_sockets",
                f"At most {cap} connections per person and room",
            )
        conn = ClientConn(
            id=self._socket_id(),
            room_id=room_id,
            user_id=uid,
            username=user.username,
            outbox=Outbox(ws, self._limits),
            claims=claims,
        )
        await self._attach(room_id)
        self._rooms.setdefault(room_id, {})[conn.id] = conn
        writer = conn.outbox.start(f"ws-writer-{conn.id}")
        watcher = asyncio.create_task(self._watch_auth(conn), name=f"ws-auth-{conn.id}")
        try:
            if await self.presence.add(room_id, conn.id, uid):
                await self.broadcast(room_id, PresenceJoined(user_id=uid, username=user.username))
            snapshot_seq = await self.bus.current_seq(room_id)
            _, remote = await self.remote_state(room_id)
            state = await room_state(
                settings=self.settings,
                sessionmaker=self.sessionmaker,
                presence=self.presence,
                remote=remote,
                room_id=room_id,
                user_id=uid,
                conn_id=conn.id,
            )
            payload = json.dumps(
                {"seq": snapshot_seq, "type": state.TYPE, "data": state.data(), "ts": now_iso()}
            )
            conn.start(payload, snapshot_seq)
            log.info(
                "room socket open", extra={"room": room.room_code, "user_id": uid, "conn": conn.id}
            )
            await self._until_over(self._client_loop(ws, conn), conn.outbox)
        finally:
            watcher.cancel()
            conn.throttles.cancel()
            self._rooms.get(room_id, {}).pop(conn.id, None)
            if not self._rooms.get(room_id):
                self._rooms.pop(room_id, None)
            conn.outbox.close(CLOSE_NORMAL)
            cancelled = await _end_writer(writer)
            self._spawn(self._after_close(room_id, conn), f"ws-cleanup-{conn.id}")
            if cancelled:
                raise asyncio.CancelledError

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

    async def _watch_auth(self, conn: ClientConn) -> None:
        """Close the socket (4401) once its token expired without a fresh `auth`, or its user
        was deactivated or its session revoked: checked at expiry and every
        ROOM_WS_AUTH_RECHECK_SECONDS. A failing check (database or Redis down) keeps it."""
        if self.access is None or conn.claims is None:
            return
        every = self.settings.ROOM_WS_AUTH_RECHECK_SECONDS
        while not conn.outbox.closing:
            claims = conn.claims
            assert claims is not None
            await asyncio.sleep(max(0.05, min(every, claims.expires_at - time.time())))
            claims = conn.claims  # an `auth` frame may have brought a fresh one meanwhile
            assert claims is not None
            try:
                valid = await self.access.still_valid(claims)
            except Exception:
                log.warning("socket auth re-check failed", exc_info=True)
                continue
            if not valid:
                log.info(
                    "room socket closed: token expired, session revoked or user inactive",
                    extra={"room": conn.room_id, "user_id": conn.user_id, "conn": conn.id},
                )
                conn.outbox.close(CLOSE_UNAUTHENTICATED, "token expired or session revoked")
                return

    @staticmethod
    async def _until_over(reading: Awaitable[None], outbox: Outbox) -> None:
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

    async def _client_loop(self, ws: WebSocket, conn: ClientConn) -> None:
        limit = self.settings.ROOM_WS_MAX_FRAME_BYTES
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect" or conn.outbox.closing:
                return  # closing: kicked, left, ended or too slow; nothing more is handled
            text = frame.get("text")
            if text is None:
                if len(frame.get("bytes") or b"") > limit:
                    conn.outbox.close(CLOSE_TOO_BIG, "frame too large")
                    return
            elif len(text) > limit or len(text.encode()) > limit:
                detail = f"Frames are limited to {limit} bytes"
                self.reply(conn, ErrorOut(code="too_large", detail=detail))
                conn.outbox.close(CLOSE_TOO_BIG, "frame too large")
                return
            # Every frame counts, binary ones too: each would otherwise cost an `error` reply
            # without limit.
            flood = conn.flood()
            if flood is Flood.warn:
                detail = "Too many messages; slow down"
                self.reply(conn, ErrorOut(code="rate_limited", detail=detail))
            if flood is not Flood.ok:
                continue
            if text is None:
                self.reply(conn, ErrorOut(code="bad_message", detail="Send JSON text frames"))
                continue
            await self.handlers.handle(conn, text)

    async def _after_close(self, room_id: str, conn: ClientConn) -> None:
        try:
            await self._detach(room_id)
            await self._forget_conn(
                room_id, conn.id, conn.user_id, grace=self.settings.ROOM_PRESENCE_GRACE_SECONDS
            )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("socket cleanup failed", extra={"room": room_id, "user_id": conn.user_id})

    async def _forget_conn(self, room_id: str, conn_id: str, user_id: str, *, grace: float) -> None:
        """A socket is gone: the agent closes its peer; its user goes offline (after `grace`, if
        no other socket of theirs came meanwhile) and gives up the remote."""
        async with self._presence_lock(room_id):
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
            await self._forget_conn(room_id, conn_id, conns[conn_id], grace=0)
        if owner and _instance_of(owner) in dead:
            await self.presence.set_agent(room_id, None, only_if=owner)
            if await self.presence.agent(room_id) is None:
                await self._announce_agent(room_id, connected=False)
        log.warning(
            "removed sockets of crashed API processes",
            extra={"room": room_id, "instances": sorted(dead), "conns": len(gone)},
        )
        return gone

    # ---------------------------------------------------------------- agent sockets

    async def serve_agent(self, ws: WebSocket, room: Room) -> None:
        room_id = str(room.id)
        agent = AgentConn(id=self._socket_id(), room_id=room_id, outbox=Outbox(ws, self._limits))
        old = self._agents.get(room_id)
        if old is not None:
            old.outbox.close(CLOSE_REPLACED, "replaced by a newer agent connection")
        await self._attach(room_id)
        self._agents[room_id] = agent
        writer = agent.outbox.start(f"agent-writer-{agent.id}")
        syncing: asyncio.Task[None] | None = None
        try:
            await self.presence.set_agent(room_id, agent.id)
            _, remote = await self.remote_state(room_id)
            agent.send(
                AuthOk(
                    room_id=room_id,
                    holder_id=remote.holder_id or None,
                    pooled=room.pooled,
                    start_url=room.start_url,
                    ice_servers=ice_servers(
                        self.settings, user=f"agent-{room_id}", now=time.time()
                    ),
                    conns=sorted(await self.presence.conns(room_id)),
                )
            )
            syncing = asyncio.create_task(self._sync_peers(agent), name=f"peers-{agent.id}")
            news = StatusNews(status=RoomStatus(room.status), agent_connected=True)
            await self.broadcast(room_id, status_message(news))
            log.info("agent connected", extra={"room": room.room_code})
            await self._until_over(self._agent_loop(ws, agent, room.room_code), agent.outbox)
        finally:
            agent.throttles.cancel()
            if syncing is not None:
                syncing.cancel()
            if self._agents.get(room_id) is agent:
                self._agents.pop(room_id, None)
            agent.outbox.close(CLOSE_NORMAL)
            cancelled = await _end_writer(writer)
            self._spawn(self._after_agent(room_id, agent.id), f"agent-cleanup-{agent.id}")
            if cancelled:
                raise asyncio.CancelledError

    async def _agent_loop(self, ws: WebSocket, agent: AgentConn, room_code: str) -> None:
        """An agent's frames. Past AGENT_FLOOD_PER_SECOND they are dropped (one `rate_limited`
        says so); one over ROOM_WS_MAX_FRAME_BYTES is answered `frame_too_large` and the channel
        stays open: a page's huge title must not cut its room off (the transport's own limit,
        `main.WS_TRANSPORT_FACTOR` times larger, lets the frame reach us to be answered)."""
        limit = self.settings.ROOM_WS_MAX_FRAME_BYTES
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                return
            flood = agent.frames.hit()
            if flood is Flood.warn:
                log.warning(
                    "agent frames over the limit: dropped for the rest of the second",
                    extra={"room": room_code, "per_second": agent.frames.limit},
                )
                agent.send(AgentError(code="rate_limited", message="Too many messages"))
            if flood is not Flood.ok:
                continue
            text = frame.get("text")
            size = len(text.encode()) if text is not None else len(frame.get("bytes") or b"")
            if size > limit:
                log.warning(
                    "agent frame too large: refused",
                    extra={"room": room_code, "bytes": size, "limit": limit},
                )
                detail = f"Frames are limited to {limit} bytes"
                agent.send(AgentError(code="frame_too_large", message=detail))
                continue
            await self.agent_channel.handle(agent, text, room_code)

    async def _sync_peers(self, agent: AgentConn) -> None:
        """Tell the agent the room's present sockets every ROOM_AGENT_PEER_SYNC_SECONDS, so it
        drops the peer of a socket whose `peer.closed` was lost (a kicked user's too)."""
        every = self.settings.ROOM_AGENT_PEER_SYNC_SECONDS
        while not agent.outbox.closing:
            await asyncio.sleep(every)
            try:
                conns = await self.presence.conns(agent.room_id)
            except Exception:
                log.warning("peer sync skipped", extra={"room": agent.room_id}, exc_info=True)
                continue
            agent.send(PeersSync(conns=sorted(conns)))

    async def _after_agent(self, room_id: str, owner: str) -> None:
        try:
            await self._detach(room_id)
            async with self._presence_lock(room_id):
                await self.presence.set_agent(room_id, None, only_if=owner)
            if await self.presence.agent(room_id) is None:
                await self._announce_agent(room_id, connected=False)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("agent cleanup failed", extra={"room": room_id})

    async def _announce_agent(self, room_id: str, *, connected: bool) -> None:
        async with self.sessionmaker() as s:
            status = await queries.status_of(session=s, room_id=uuid.UUID(room_id))
        if status not in (None, RoomStatus.ended, RoomStatus.ending):
            assert status is not None
            news = StatusNews(status=status, agent_connected=connected)
            await self.broadcast(room_id, status_message(news))


async def _end_writer(writer: asyncio.Task[None]) -> bool:
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


def _instance_of(socket_id: str) -> str:
    """The API process a room or agent socket id belongs to ("" for ids without one)."""
    instance, sep, _ = socket_id.partition(".")
    return instance if sep else ""
