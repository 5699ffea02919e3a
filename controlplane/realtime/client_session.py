"""One member's room socket, from its first served frame to its clean-up: register it with the
hub, send the snapshot, read its frames (bounded in size and rate) into the handler table, watch
its token, and, once it ends, take it out of presence.

The hub (`hub.py`) holds the registry, the bus and the room events; this module only serves a
socket on top of them. Everything runs on the event loop of the process holding the socket.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from fastapi import WebSocket
from watchparty_wire.room import ErrorOut, PresenceJoined

from controlplane.auth.access_tokens import AccessClaims
from controlplane.errors import DomainError, Kind
from controlplane.models import Room, User
from controlplane.realtime.bus import now_iso
from controlplane.realtime.connections import (
    CLOSE_NORMAL,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHENTICATED,
    ClientConn,
    Flood,
    end_writer,
    until_over,
)
from controlplane.realtime.hub import Hub
from controlplane.realtime.state_snapshot import room_state

log = logging.getLogger(__name__)


async def serve_client(
    hub: Hub, ws: WebSocket, room: Room, user: User, claims: AccessClaims | None = None
) -> None:
    """Serve one authenticated member's socket until it ends. Raises `DomainError` before
    anything is registered when the user already has too many sockets in the room.
    `claims` (the token's) are re-checked while it is open (`_watch_auth`)."""
    room_id, uid = str(room.id), str(user.id)
    cap = hub.settings.ROOM_MAX_SOCKETS_PER_USER
    # Counted across replicas (presence); two sockets racing past the check together can
    # exceed the cap by one each: it bounds a flood, it is not an exact quota.
    if await hub.presence.conn_count(room_id, uid) >= cap:
        raise DomainError(
            Kind.rate_limited,
            "too_many_sockets",
            f"At most {cap} connections per person and room",
        )
    conn = ClientConn(
        id=hub.socket_id(),
        room_id=room_id,
        user_id=uid,
        username=user.username,
        outbox=hub.outbox(ws),
        claims=claims,
    )
    await hub.add_client(conn)
    writer = conn.outbox.start(f"ws-writer-{conn.id}")
    watcher = asyncio.create_task(_watch_auth(hub, conn), name=f"ws-auth-{conn.id}")
    try:
        if await hub.presence.add(room_id, conn.id, uid):
            await hub.broadcast(room_id, PresenceJoined(user_id=uid, username=user.username))
        await _send_snapshot(hub, conn)
        log.info(
            "room socket open", extra={"room": room.room_code, "user_id": uid, "conn": conn.id}
        )
        await until_over(_client_loop(hub, ws, conn), conn.outbox)
    finally:
        watcher.cancel()
        conn.throttles.cancel()
        hub.drop_client(conn)
        conn.outbox.close(CLOSE_NORMAL)
        cancelled = await end_writer(writer)
        hub.spawn(_after_close(hub, room_id, conn), f"ws-cleanup-{conn.id}")
        if cancelled:
            raise asyncio.CancelledError


async def _send_snapshot(hub: Hub, conn: ClientConn) -> None:
    """The socket's first message, `room.state`, numbered with the bus's sequence at the time
    it was read (the socket drops broadcasts it already reflects)."""
    snapshot_seq = await hub.bus.current_seq(conn.room_id)
    _, remote = await hub.remote_state(conn.room_id)
    state = await room_state(
        settings=hub.settings,
        sessionmaker=hub.sessionmaker,
        presence=hub.presence,
        remote=remote,
        room_id=conn.room_id,
        user_id=conn.user_id,
        conn_id=conn.id,
    )
    payload = json.dumps(
        {"seq": snapshot_seq, "type": state.TYPE, "data": state.data(), "ts": now_iso()}
    )
    conn.start(payload, snapshot_seq)


async def _watch_auth(hub: Hub, conn: ClientConn) -> None:
    """Close the socket (4401) once its token expired without a fresh `auth`, or its user
    was deactivated or its session revoked: checked at expiry and every
    ROOM_WS_AUTH_RECHECK_SECONDS. A failing check (database or Redis down) keeps it."""
    if hub.access is None or conn.claims is None:
        return
    every = hub.settings.ROOM_WS_AUTH_RECHECK_SECONDS
    while not conn.outbox.closing:
        claims = conn.claims
        assert claims is not None
        await asyncio.sleep(max(0.05, min(every, claims.expires_at - time.time())))
        claims = conn.claims  # an `auth` frame may have brought a fresh one meanwhile
        assert claims is not None
        try:
            valid = await hub.access.still_valid(claims)
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


async def _client_loop(hub: Hub, ws: WebSocket, conn: ClientConn) -> None:
    limit = hub.settings.ROOM_WS_MAX_FRAME_BYTES
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
            hub.reply(conn, ErrorOut(code="too_large", detail=detail))
            conn.outbox.close(CLOSE_TOO_BIG, "frame too large")
            return
        # Every frame counts, binary ones too: each would otherwise cost an `error` reply
        # without limit.
        flood = conn.flood()
        if flood is Flood.warn:
            detail = "Too many messages; slow down"
            hub.reply(conn, ErrorOut(code="rate_limited", detail=detail))
        if flood is not Flood.ok:
            continue
        if text is None:
            hub.reply(conn, ErrorOut(code="bad_message", detail="Send JSON text frames"))
            continue
        await hub.handlers.handle(conn, text)


async def _after_close(hub: Hub, room_id: str, conn: ClientConn) -> None:
    try:
        await hub.detach(room_id)
        await hub.forget_conn(
            room_id, conn.id, conn.user_id, grace=hub.settings.ROOM_PRESENCE_GRACE_SECONDS
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("socket cleanup failed", extra={"room": room_id, "user_id": conn.user_id})
