"""`/api/rooms/{code}/ws`: authenticate the first frame, check membership, hand to the hub.

A refusal is the domain's `DomainError`, turned into the close code of docs/protocol.md by the
socket layer (`realtime/connections.close_for`)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from watchparty_wire.room import Auth

from controlplane.api.deps import client_ip, draining, get_access, get_hub
from controlplane.context import AppContext
from controlplane.errors import DomainError, Kind
from controlplane.realtime import messages as m
from controlplane.realtime.client_session import serve_client
from controlplane.realtime.connections import (
    CLOSE_SERVICE_RESTART,
    CLOSE_UNAUTHENTICATED,
    close_for,
)
from controlplane.rooms import service

router = APIRouter(tags=["rooms"])
log = logging.getLogger(__name__)


async def _first_frame(ws: WebSocket, wait_s: float) -> str | None:
    try:
        frame = await asyncio.wait_for(ws.receive(), timeout=wait_s)
    except TimeoutError:
        return None
    if frame["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(frame.get("code", 1000))
    return frame.get("text")


def _token(raw: str | None, max_bytes: int) -> str | None:
    """The access token of a well-formed `auth` frame, else None."""
    if raw is None or len(raw) > max_bytes:
        return None
    try:
        type_, data = m.parse_envelope(raw)
        if type_ != "auth":
            return None
        return Auth.model_validate(data).token
    except (DomainError, ValueError):
        return None


@router.websocket("/rooms/{code}/ws")
async def room_socket(ws: WebSocket, code: str) -> None:
    ctx: AppContext = ws.app.state.ctx
    settings = ctx.settings
    await ws.accept()
    if draining(ws):  # stopping: connect to another process
        await ws.close(CLOSE_SERVICE_RESTART, "service restart")
        return
    try:
        raw = await _first_frame(ws, settings.ROOM_WS_AUTH_TIMEOUT_SECONDS)
    except WebSocketDisconnect:
        return
    token = _token(raw, settings.ROOM_WS_MAX_FRAME_BYTES)
    if token is None:
        await ws.close(CLOSE_UNAUTHENTICATED, "authenticate first")
        return
    async with ctx.sessionmaker() as db:
        try:
            verified = await get_access(ws).verify(token)
            if verified is None:
                raise DomainError(Kind.unauthenticated, "invalid_token", "Token is invalid")
            claims, user = verified
            ip = client_ip(ws, settings)
            room = await service.admit(ctx=ctx, session=db, code=code, user=user, ip=ip)
        except DomainError as exc:
            await ws.close(*close_for(exc))
            return
    if draining(ws):  # began while this one authenticated
        await ws.close(CLOSE_SERVICE_RESTART, "service restart")
        return
    try:
        await serve_client(get_hub(ws), ws, room, user, claims)
    except WebSocketDisconnect:
        pass
    except DomainError as exc:  # refused before it was served (too many sockets)
        await ws.close(*close_for(exc))
