"""The per-process room hub: the sockets this replica holds, and what to do with each message.

Broadcasts go out through the bus (which numbers them) and come back in through `_on_bus`, on
every replica alike, so a client on replica A and one on replica B see the same stream. Shared
facts (presence, remote holder, browser status, which socket serves the agent) live in the
presence store and the bus's guarded values, never only in this process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import WebSocket
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col
from starlette.websockets import WebSocketState

from controlplane.models import Room, RoomStage, RoomStatus, User
from controlplane.models.types import utcnow
from controlplane.realtime import messages as m
from controlplane.realtime.bus import Bus, Guard, now_iso
from controlplane.realtime.presence import Presence
from controlplane.realtime.remote import Action, RemoteError, RemoteState, Transition, apply
from controlplane.rooms import service
from controlplane.rooms.ice import ice_servers
from controlplane.rooms.schemas import RoomPublic
from controlplane.rooms.url_policy import UrlRejected, check_url_async
from controlplane.services.ratelimit import RateLimiter
from controlplane.settings import Settings

log = logging.getLogger(__name__)

# Close codes (also in docs/protocol.md)
CLOSE_LEFT = 4000
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_REPLACED = 4409
CLOSE_ENDED = 4410
CLOSE_TOO_BIG = 1009
CLOSE_TOO_SLOW = 1013

OUTBOX_LIMIT = 4096
# This process renews its liveness mark this often; others treat it as crashed once the mark
# expires, and the reaper then removes its sockets from presence (they can no longer leave).
INSTANCE_HEARTBEAT_S = 10.0
INSTANCE_TTL_S = 30.0
FLOOD_PER_SECOND = 100
TYPING_EXPIRES_S = 6.0


class HubError(Exception):
    def __init__(self, code: str, detail: Any) -> None:
        super().__init__(str(detail))
        self.code = code
        self.detail = detail


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


@dataclass
class AgentConn:
    id: str
    room_id: str
    outbox: Outbox

    def send(self, type_: str, data: dict[str, Any]) -> None:
        self.outbox.put(json.dumps({"type": type_, "data": data}))


Handler = Callable[[ClientConn, Any], Awaitable[None]]


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
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.presence = presence
        self.sessionmaker = sessionmaker
        # Chat messages are single INSERTs: autocommit saves BEGIN/COMMIT round trips (same pool).
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.rate_limiter = rate_limiter
        self.instance = uuid.uuid4().hex[:12]
        self._rooms: dict[str, dict[str, ClientConn]] = {}
        self._agents: dict[str, AgentConn] = {}
        self._last_seq: dict[str, int] = {}
        self._subs: dict[str, int] = {}
        self._sub_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._typing: dict[tuple[str, str], asyncio.Task[None]] = {}
        bus.set_handler(self._on_bus)
        self._handlers: dict[str, Handler] = {
            "ping": self._ping,
            "chat.send": self._chat_send,
            "chat.typing": self._chat_typing,
            "remote.request": self._remote_action("request"),
            "remote.grant": self._remote_action("grant"),
            "remote.pass": self._remote_action("pass"),
            "remote.take": self._remote_action("take"),
            "remote.revoke": self._remote_action("revoke"),
            "remote.release": self._remote_action("release"),
            "browser.navigate": self._navigate,
            "browser.back": self._forward_as_holder("browser.back"),
            "browser.forward": self._forward_as_holder("browser.forward"),
            "browser.reload": self._forward_as_holder("browser.reload"),
            "browser.mouse_move": self._forward_as_holder("browser.mouse_move"),
            "browser.click": self._forward_as_holder("browser.click"),
            "browser.scroll": self._forward_as_holder("browser.scroll"),
            "browser.keypress": self._forward_as_holder("browser.keypress"),
            "rtc.offer": self._rtc,
            "rtc.answer": self._rtc,
            "rtc.ice": self._rtc,
            "voice.state": self._voice_state,
            "voice.leave": self._voice_leave,
        }

    # ---------------------------------------------------------------- lifecycle

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

    async def aclose(self) -> None:
        for task in list(self._tasks) + list(self._typing.values()):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        await self.bus.aclose()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
                await self.bus.unsubscribe(room_id)
            else:
                self._subs[room_id] = count

    def socket_counts(self) -> dict[str, int]:
        """Open sockets on this process (for /metrics)."""
        return {"room": sum(len(c) for c in self._rooms.values()), "agent": len(self._agents)}

    def _socket_id(self) -> str:
        # The instance prefix tells whose socket it is once that process is gone.
        return f"{self.instance}.{uuid.uuid4().hex[:16]}"

    # ---------------------------------------------------------------- publishing

    async def broadcast(self, room_id: uuid.UUID | str, type_: str, data: dict[str, Any]) -> int:
        seqs = await self.bus.publish(str(room_id), [(type_, data)])
        assert seqs is not None
        return seqs[0]

    def _direct_payload(self, room_id: str, type_: str, data: dict[str, Any]) -> str:
        seq = self._last_seq.get(room_id, 0)
        return json.dumps({"seq": seq, "type": type_, "data": data, "ts": now_iso()})

    def _reply(self, conn: ClientConn, type_: str, data: dict[str, Any]) -> None:
        conn.deliver(self._direct_payload(conn.room_id, type_, data), None)

    def _error(self, conn: ClientConn, code: str, detail: Any, about: str | None = None) -> None:
        data: dict[str, Any] = {"code": code, "detail": detail}
        if about is not None:
            data["type"] = about
        self._reply(conn, "error", data)

    # ---------------------------------------------------------------- bus delivery

    def _on_bus(self, room_id: str, kind: str, payload: str) -> None:
        conns = self._rooms.get(room_id, {})
        agent = self._agents.get(room_id)
        if kind == "b":
            msg = json.loads(payload)
            seq, type_ = int(msg["seq"]), msg["type"]
            if seq > self._last_seq.get(room_id, 0):
                self._last_seq[room_id] = seq
            for conn in list(conns.values()):
                conn.deliver(payload, seq)
            data = msg.get("data") or {}
            if type_ == "remote.changed" and agent is not None:
                agent.send("remote.changed", {"holder_id": data.get("holder_id")})
            elif type_ == "participant.removed":
                code = CLOSE_FORBIDDEN if data.get("reason") == "kicked" else CLOSE_LEFT
                for conn in list(conns.values()):
                    if conn.user_id == data.get("user_id"):
                        conn.outbox.close(code, str(data.get("reason", "")))
            elif type_ == "room.ended":
                for conn in list(conns.values()):
                    conn.outbox.close(CLOSE_ENDED, "room ended")
                if agent is not None:
                    agent.send("room.ended", data)
                    agent.outbox.close(CLOSE_ENDED, "room ended")
            return
        d = json.loads(payload)
        to, inner = str(d["to"]), d["msg"]
        if to == "agent":
            if agent is not None:
                agent.outbox.put(json.dumps(inner))
            return
        out = self._direct_payload(room_id, inner["type"], inner.get("data", {}))
        if to.startswith("user:"):
            uid = to[5:]
            for conn in list(conns.values()):
                if conn.user_id == uid:
                    conn.deliver(out, None)
        elif to.startswith("conn:"):
            conn_opt = conns.get(to[5:])
            if conn_opt is not None:
                conn_opt.deliver(out, None)

    # ---------------------------------------------------------------- remote state

    async def _host_of(self, room_id: str) -> str:
        async with self.sessionmaker() as s:
            host = (
                await s.execute(select(col(Room.host_id)).where(col(Room.id) == uuid.UUID(room_id)))
            ).scalar_one()
        return str(host) if host else ""  # a warm-pool browser has no host yet

    async def remote_state(self, room_id: str) -> tuple[str, RemoteState]:
        raw = await self.bus.get_value(room_id, "remote")
        if raw:
            return raw, RemoteState.from_json(raw)
        return "", RemoteState.initial(await self._host_of(room_id))

    async def remote_transact(
        self, room_id: str, step: Callable[[RemoteState], Transition]
    ) -> Transition:
        """Read, step the pure machine, compare-and-set + broadcast atomically; retry on a race."""
        for _ in range(50):
            raw, state = await self.remote_state(room_id)
            tr = step(state)
            if tr.state == state and raw:
                if tr.events:
                    await self.bus.publish(room_id, tr.events)
                return tr
            guard = Guard("remote", raw, tr.state.to_json())
            if await self.bus.publish(room_id, tr.events, guard=guard) is not None:
                return tr
        raise RemoteError("busy", "The remote is changing hands too fast; try again")

    # ---------------------------------------------------------------- service hooks

    async def participant_removed(self, room: Room, *, user_id: str, reason: str, by: str) -> None:
        room_id = str(room.id)
        why = "holder_kicked" if reason == "kicked" else "holder_left"
        await self.remote_transact(room_id, lambda s: apply(s, "left", actor=user_id, reason=why))
        await self.broadcast(
            room_id, "participant.removed", {"user_id": user_id, "reason": reason, "by": by}
        )

    async def room_ended(self, room: Room, *, by: str | None, reason: str) -> None:
        await self.broadcast(room.id, "room.ended", {"reason": reason, "by": by})

    async def room_assigned(self, room: Room) -> None:
        """A warm-pool browser became `room`: its agent wipes the profile, loads the start URL
        and takes input from the new host (docs/protocol.md)."""
        room_id = str(room.id)
        _, remote = await self.remote_state(room_id)
        await self.bus.direct(
            room_id,
            "agent",
            {
                "type": "room.assigned",
                "data": {"start_url": room.start_url, "holder_id": remote.holder_id or None},
            },
        )

    async def host_changed(self, room: Room, *, previous: str, by: str) -> None:
        room_id, host = str(room.id), str(room.host_id)
        await self.remote_transact(room_id, lambda s: apply(s, "host_changed", actor=host))
        await self.broadcast(
            room_id, "host.changed", {"host_id": host, "previous_host_id": previous, "by": by}
        )

    # ---------------------------------------------------------------- client sockets

    async def serve_client(self, ws: WebSocket, room: Room, user: User) -> None:
        room_id, uid = str(room.id), str(user.id)
        conn = ClientConn(
            id=self._socket_id(),
            room_id=room_id,
            user_id=uid,
            username=user.username,
            outbox=Outbox(ws),
        )
        await self._attach(room_id)
        self._rooms.setdefault(room_id, {})[conn.id] = conn
        writer = asyncio.create_task(conn.outbox.run(), name=f"ws-writer-{conn.id}")
        try:
            if await self.presence.add(room_id, conn.id, uid):
                await self.broadcast(
                    room_id, "presence.joined", {"user_id": uid, "username": user.username}
                )
            snapshot_seq = await self.bus.current_seq(room_id)
            state = await self._room_state(room_id, conn)
            conn.start(self._state_payload(state, snapshot_seq), snapshot_seq)
            log.info(
                "room socket open", extra={"room": room.room_code, "user_id": uid, "conn": conn.id}
            )
            await self._client_loop(ws, conn)
        finally:
            self._rooms.get(room_id, {}).pop(conn.id, None)
            if not self._rooms.get(room_id):
                self._rooms.pop(room_id, None)
            conn.outbox.close(1000)
            try:
                await asyncio.wait_for(writer, timeout=2)
            except (TimeoutError, asyncio.CancelledError, Exception):
                writer.cancel()
            self._spawn(self._after_close(room_id, conn), f"ws-cleanup-{conn.id}")

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
        remaining = await self.presence.remove(room_id, conn_id, user_id)
        await self.bus.direct(room_id, "agent", {"type": "peer.closed", "data": {"conn": conn_id}})
        if remaining:
            return
        await self._stop_typing(room_id, user_id, announce=True)
        if grace:
            await asyncio.sleep(grace)
        if await self.presence.conn_count(room_id, user_id) > 0:
            return
        if await self.presence.set_offline(room_id, user_id):
            await self.broadcast(room_id, "presence.left", {"user_id": user_id})
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
                await self._announce_agent_gone(room_id)
        log.warning(
            "removed sockets of crashed API processes",
            extra={"room": room_id, "instances": sorted(dead), "conns": len(gone)},
        )
        return gone

    def _state_payload(self, state: dict[str, Any], seq: int) -> str:
        return json.dumps({"seq": seq, "type": "room.state", "data": state, "ts": now_iso()})

    async def _room_state(self, room_id: str, conn: ClientConn) -> dict[str, Any]:
        async with self.sessionmaker() as s:
            room = await s.get(Room, uuid.UUID(room_id))
            assert room is not None
            people = await service.participants(session=s, room_id=room.id)
            recent, _ = await service.history(
                session=s, room=room, before=None, limit=self.settings.ROOM_RECENT_CHAT
            )
        online = await self.presence.online(room_id)
        voices = await self.presence.voices(room_id)
        _, remote = await self.remote_state(room_id)
        host = str(room.host_id)
        return {
            "room": RoomPublic.of(room, self.settings).model_dump(mode="json"),
            "you": {
                "user_id": conn.user_id,
                "conn_id": conn.id,
                "role": "host" if conn.user_id == host else "guest",
            },
            "participants": [
                {
                    "user_id": str(p.user_id),
                    "username": name,
                    "role": "host" if str(p.user_id) == host else "guest",
                    "online": str(p.user_id) in online,
                    "voice": voices.get(str(p.user_id)),
                }
                for p, name in people
                if service.is_active(p)
            ],
            "remote": remote.public(),
            "browser": await self.presence.browser(room_id),
            "agent_connected": await self.presence.agent(room_id) is not None,
            "chat": [_chat_data(msg, name, None) for msg, name in reversed(recent)],
            "ice_servers": ice_servers(self.settings, user=conn.user_id, now=time.time()),
        }

    async def _client_loop(self, ws: WebSocket, conn: ClientConn) -> None:
        limit = self.settings.ROOM_WS_MAX_FRAME_BYTES
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                return
            text = frame.get("text")
            if text is None:
                if len(frame.get("bytes") or b"") > limit:
                    conn.outbox.close(CLOSE_TOO_BIG, "frame too large")
                    return
                self._error(conn, "bad_message", "Send JSON text frames")
                continue
            if len(text) > limit or len(text.encode()) > limit:
                self._error(conn, "too_large", f"Frames are limited to {limit} bytes")
                conn.outbox.close(CLOSE_TOO_BIG, "frame too large")
                return
            if self._flooding(conn):
                continue
            type_: str | None = None
            try:
                type_, msg = m.parse(text)
                await self._handlers[type_](conn, msg)
            except m.BadMessage as exc:
                self._error(conn, exc.code, exc.detail, type_)
            except (HubError, RemoteError) as exc:
                self._error(conn, exc.code, exc.detail, type_)
            except Exception:
                log.exception("room message failed", extra={"room": conn.room_id, "type": type_})
                self._error(conn, "internal_error", "Something went wrong handling that", type_)

    def _flooding(self, conn: ClientConn) -> bool:
        now = time.monotonic()
        if now - conn.window_start >= 1.0:
            conn.window_start, conn.window_count = now, 0
        conn.window_count += 1
        if conn.window_count > FLOOD_PER_SECOND:
            if conn.window_count == FLOOD_PER_SECOND + 1:
                self._error(conn, "rate_limited", "Too many messages; slow down")
            return True
        return False

    # ---------------------------------------------------------------- handlers

    async def _ping(self, conn: ClientConn, msg: m.Empty) -> None:
        self._reply(conn, "pong", {})

    async def _chat_send(self, conn: ClientConn, msg: m.ChatSend) -> None:
        text = m.clean_text(msg.text)
        if not text:
            raise HubError("empty_message", "The message is empty")
        if len(text) > self.settings.ROOM_CHAT_MAX_CHARS:
            raise HubError(
                "too_long",
                f"Messages are limited to {self.settings.ROOM_CHAT_MAX_CHARS} characters",
            )
        retry = await self.rate_limiter.hit(
            f"chat:{conn.room_id}:{conn.user_id}",
            limit=self.settings.ROOM_CHAT_RATE_COUNT,
            window_s=self.settings.ROOM_CHAT_RATE_SECONDS,
        )
        if retry is not None:
            raise HubError("rate_limited", {"message": "Too many messages", "retry_after": retry})
        async with self._autocommit.connect() as db:
            row = await service.add_message(
                conn=db,
                room_id=uuid.UUID(conn.room_id),
                user_id=uuid.UUID(conn.user_id),
                text=text,
            )
        await self._stop_typing(conn.room_id, conn.user_id, announce=False)
        await self.broadcast(
            conn.room_id, "chat.message", _chat_data(row, conn.username, msg.client_id)
        )

    async def _chat_typing(self, conn: ClientConn, msg: m.ChatTyping) -> None:
        key = (conn.room_id, conn.user_id)
        old = self._typing.pop(key, None)
        if old is not None:
            old.cancel()
        if msg.typing:
            self._typing[key] = asyncio.create_task(self._typing_expiry(*key))
        if msg.typing or old is not None:
            await self.broadcast(
                conn.room_id, "chat.typing", {"user_id": conn.user_id, "typing": msg.typing}
            )

    async def _typing_expiry(self, room_id: str, user_id: str) -> None:
        await asyncio.sleep(TYPING_EXPIRES_S)
        self._typing.pop((room_id, user_id), None)
        try:
            await self.broadcast(room_id, "chat.typing", {"user_id": user_id, "typing": False})
        except Exception:
            log.exception("typing expiry failed", extra={"room": room_id})

    async def _stop_typing(self, room_id: str, user_id: str, *, announce: bool) -> None:
        task = self._typing.pop((room_id, user_id), None)
        if task is not None:
            task.cancel()
            if announce:
                await self.broadcast(room_id, "chat.typing", {"user_id": user_id, "typing": False})

    def _remote_action(self, action: Action) -> Handler:
        async def handle(conn: ClientConn, msg: Any) -> None:
            target = str(msg.user_id) if isinstance(msg, m.RemoteTarget) else None
            if action == "pass" and target is not None and target != conn.user_id:
                await self._require_member(conn.room_id, target)
            release_to_host = self.settings.ROOM_RELEASE_TO_HOST
            await self.remote_transact(
                conn.room_id,
                lambda s: apply(
                    s,
                    action,
                    actor=conn.user_id,
                    target=target,
                    release_to_host=release_to_host,
                ),
            )

        return handle

    async def _require_member(self, room_id: str, user_id: str) -> None:
        async with self.sessionmaker() as s:
            p = await service.get_participant(
                session=s, room_id=uuid.UUID(room_id), user_id=uuid.UUID(user_id)
            )
        if not service.is_active(p):
            raise HubError("invalid_target", "That user is not in this room")

    async def _require_holder(self, conn: ClientConn) -> None:
        _, state = await self.remote_state(conn.room_id)
        if state.holder_id != conn.user_id:
            raise HubError("not_holder", "Only the holder of the remote can do that")

    async def _require_agent(self, room_id: str) -> None:
        if await self.presence.agent(room_id) is None:
            raise HubError("agent_unavailable", "The room's browser is not connected yet")

    async def _navigate(self, conn: ClientConn, msg: m.Navigate) -> None:
        await self._require_holder(conn)
        try:
            url = await check_url_async(
                msg.url, allow_private=self.settings.ROOM_ALLOW_PRIVATE_URLS
            )
        except UrlRejected as exc:
            raise HubError("url_not_allowed", str(exc)) from None
        await self._require_agent(conn.room_id)
        await self.bus.direct(
            conn.room_id, "agent", {"type": "browser.navigate", "data": {"url": url}}
        )

    def _forward_as_holder(self, type_: str) -> Handler:
        async def handle(conn: ClientConn, msg: m._Msg) -> None:
            await self._require_holder(conn)
            await self.bus.direct(conn.room_id, "agent", {"type": type_, "data": msg.model_dump()})

        return handle

    async def _rtc(self, conn: ClientConn, msg: m.RtcOffer | m.RtcIce) -> None:
        kind = (
            "rtc.ice"
            if isinstance(msg, m.RtcIce)
            else "rtc.answer"
            if isinstance(msg, m.RtcAnswer)
            else "rtc.offer"
        )
        if msg.to == "agent":
            if kind == "rtc.ice":
                return  # the agent answers with every candidate in its SDP and takes no trickle
            if kind == "rtc.answer":
                raise HubError("invalid_target", "The agent only answers; it takes offers")
            assert isinstance(msg, m.RtcOffer)
            await self._require_agent(conn.room_id)
            await self.bus.direct(
                conn.room_id,
                "agent",
                {
                    "type": "rtc.offer",
                    "data": {"from": conn.user_id, "conn": conn.id, "sdp": msg.sdp},
                },
            )
            return
        if msg.to == conn.user_id or msg.to not in await self.presence.online(conn.room_id):
            raise HubError(
                "invalid_target", '`to` must be "agent" or another online user of this room'
            )
        data = msg.model_dump(exclude={"to", "conn"})
        data.update({"from": conn.user_id, "conn": conn.id})
        to = f"conn:{msg.conn}" if msg.conn else f"user:{msg.to}"
        await self.bus.direct(conn.room_id, to, {"type": kind, "data": data})

    async def _voice_state(self, conn: ClientConn, msg: m.VoiceState) -> None:
        voice = msg.model_dump()
        await self.presence.set_voice(conn.room_id, conn.user_id, voice)
        await self.broadcast(conn.room_id, "voice.state", {"user_id": conn.user_id, **voice})

    async def _voice_leave(self, conn: ClientConn, msg: m.Empty) -> None:
        # Voice state otherwise lasts until the user goes offline: leaving voice must say so,
        # or everyone would keep showing (and dialling) a voice peer that is gone.
        await self.presence.clear_voice(conn.room_id, conn.user_id)
        await self.broadcast(conn.room_id, "voice.left", {"user_id": conn.user_id})

    # ---------------------------------------------------------------- agent sockets

    async def serve_agent(self, ws: WebSocket, room: Room) -> None:
        room_id = str(room.id)
        agent = AgentConn(id=self._socket_id(), room_id=room_id, outbox=Outbox(ws))
        old = self._agents.get(room_id)
        if old is not None:
            old.outbox.close(CLOSE_REPLACED, "replaced by a newer agent connection")
        await self._attach(room_id)
        self._agents[room_id] = agent
        writer = asyncio.create_task(agent.outbox.run(), name=f"agent-writer-{agent.id}")
        try:
            await self.presence.set_agent(room_id, agent.id)
            _, remote = await self.remote_state(room_id)
            agent.send(
                "auth.ok",
                {
                    "room_id": room_id,
                    "holder_id": remote.holder_id or None,
                    # A warm browser waits for `room.assigned`; one that missed it while
                    # reconnecting sees here that it has a room now, and which page to load.
                    "pooled": room.pooled,
                    "start_url": room.start_url,
                    "ice_servers": ice_servers(
                        self.settings, user=f"agent-{room_id}", now=time.time()
                    ),
                },
            )
            await self.broadcast(
                room_id, "room.status", {"status": room.status, "agent_connected": True}
            )
            log.info("agent connected", extra={"room": room.room_code})
            await self._agent_loop(ws, agent, room)
        finally:
            if self._agents.get(room_id) is agent:
                self._agents.pop(room_id, None)
            agent.outbox.close(1000)
            try:
                await asyncio.wait_for(writer, timeout=2)
            except (TimeoutError, asyncio.CancelledError, Exception):
                writer.cancel()
            self._spawn(self._after_agent(room_id, agent.id), f"agent-cleanup-{agent.id}")

    async def _after_agent(self, room_id: str, owner: str) -> None:
        try:
            await self._detach(room_id)
            await self.presence.set_agent(room_id, None, only_if=owner)
            if await self.presence.agent(room_id) is None:
                await self._announce_agent_gone(room_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("agent cleanup failed", extra={"room": room_id})

    async def _announce_agent_gone(self, room_id: str) -> None:
        async with self.sessionmaker() as s:
            status = (
                await s.execute(select(col(Room.status)).where(col(Room.id) == uuid.UUID(room_id)))
            ).scalar_one_or_none()
        if status not in (None, RoomStatus.ended, RoomStatus.ending):
            await self.broadcast(
                room_id, "room.status", {"status": status, "agent_connected": False}
            )

    async def _agent_loop(self, ws: WebSocket, agent: AgentConn, room: Room) -> None:
        room_id = agent.room_id
        last_seen = 0.0
        while True:
            frame = await ws.receive()
            if frame["type"] == "websocket.disconnect":
                return
            text = frame.get("text")
            if text is None:
                agent.send("error", {"code": "bad_message", "message": "Send JSON text frames"})
                continue
            try:
                type_, data = m.parse_envelope(text)
            except m.BadMessage as exc:
                agent.send("error", {"code": exc.code, "message": str(exc.detail)})
                continue
            try:
                if type_ == "heartbeat":
                    if time.monotonic() - last_seen > 5:
                        last_seen = time.monotonic()
                        await self._agent_seen(room_id)
                elif type_ == "stage":
                    await self._agent_stage(room_id, str(data.get("stage", ""))[:32])
                elif type_ == "ready":
                    await self._agent_ready(room_id, data)
                elif type_ == "browser.status":
                    status = _browser_status(data)
                    await self.presence.set_browser(room_id, status)
                    await self.broadcast(room_id, "browser.status", status)
                elif type_ == "rtc.answer":
                    conn_id, to = data.get("conn"), data.get("to")
                    target = f"conn:{conn_id}" if conn_id else f"user:{to}"
                    await self.bus.direct(
                        room_id,
                        target,
                        {
                            "type": "rtc.answer",
                            "data": {"from": "agent", "sdp": str(data.get("sdp", ""))},
                        },
                    )
                elif type_ == "error":
                    log.warning(
                        "agent reported an error",
                        extra={"room": room.room_code, "agent_error": data},
                    )
                    if data.get("conn"):
                        await self.bus.direct(
                            room_id,
                            f"conn:{data['conn']}",
                            {
                                "type": "error",
                                "data": {
                                    "code": "agent_error",
                                    "detail": str(data.get("message", ""))[:500],
                                    "agent_code": str(data.get("code", ""))[:64],
                                },
                            },
                        )
                else:
                    agent.send("error", {"code": "unknown_type", "message": type_})
            except Exception:
                log.exception("agent message failed", extra={"room": room.room_code, "type": type_})

    async def _agent_seen(self, room_id: str) -> None:
        async with self.sessionmaker() as s:
            await s.execute(
                update(Room)
                .where(col(Room.id) == uuid.UUID(room_id))
                .values(agent_seen_at=utcnow())
            )
            await s.commit()

    async def _agent_stage(self, room_id: str, stage: str) -> None:
        async with self.sessionmaker() as s:
            result = await s.execute(
                update(Room)
                .where(
                    col(Room.id) == uuid.UUID(room_id),
                    col(Room.status).in_((RoomStatus.creating, RoomStatus.starting)),
                )
                .values(stage=stage)
            )
            await s.commit()
        if service.rowcount(result):
            await self.broadcast(
                room_id,
                "room.status",
                {"status": RoomStatus.starting, "stage": stage, "agent_connected": True},
            )

    async def _agent_ready(self, room_id: str, data: dict[str, Any]) -> None:
        async with self.sessionmaker() as s:
            changed = await service.set_status(
                session=s,
                room_id=uuid.UUID(room_id),
                status=RoomStatus.ready,
                stage=RoomStage.ready,
                only_from=(
                    RoomStatus.creating,
                    RoomStatus.starting,
                    RoomStatus.ready,
                    RoomStatus.idle,
                ),
            )
        await self._agent_seen(room_id)
        if changed:
            video = {k: data.get(k) for k in ("width", "height", "fps", "codec") if k in data}
            await self.broadcast(
                room_id,
                "room.status",
                {
                    "status": RoomStatus.ready,
                    "stage": RoomStage.ready,
                    "agent_connected": True,
                    "video": video,
                },
            )


def _instance_of(socket_id: str) -> str:
    """The API process a room or agent socket id belongs to ("" for ids without one)."""
    instance, sep, _ = socket_id.partition(".")
    return instance if sep else ""


def _chat_data(msg: Any, username: str, client_id: str | None) -> dict[str, Any]:
    return {
        "id": str(msg.id),
        "user": {"id": str(msg.user_id), "username": username},
        "text": msg.message,
        "created_at": msg.created_at.isoformat(),
        "client_id": client_id,
    }


def _browser_status(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": str(data.get("url") or "")[:2048],
        "title": str(data.get("title") or "")[:300],
        "can_go_back": bool(data.get("can_go_back")),
        "can_go_forward": bool(data.get("can_go_forward")),
        "loading": bool(data.get("loading")),
    }
