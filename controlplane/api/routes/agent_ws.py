"""`/internal/agents/ws`: a room agent authenticates with its per-room secret (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from controlplane.api.deps import draining, get_hub
from controlplane.context import AppContext
from controlplane.errors import DomainError
from controlplane.models import Room, RoomStatus
from controlplane.realtime import messages as m
from controlplane.realtime.agent_session import serve_agent
from controlplane.realtime.connections import (
    CLOSE_ENDED,
    CLOSE_SERVICE_RESTART,
    CLOSE_UNAUTHENTICATED,
)
from controlplane.rooms.agent_secret import verify_agent_secret

# Served on the agent listener (AGENT_PORT) only: controlplane/api/listeners.py.
AGENT_WS_PATH = "/internal/agents/ws"
router = APIRouter(include_in_schema=False)


@router.websocket(AGENT_WS_PATH)
async def agent_socket(ws: WebSocket) -> None:
    ctx: AppContext = ws.app.state.ctx
    await ws.accept()
    try:
        frame = await asyncio.wait_for(ws.receive(), ctx.settings.ROOM_WS_AUTH_TIMEOUT_SECONDS)
    except TimeoutError:
        await ws.close(CLOSE_UNAUTHENTICATED, "authenticate first")
        return
    if frame["type"] == "websocket.disconnect":
        return
    try:
        type_, data = m.parse_envelope(frame.get("text") or "")
        room_id = uuid.UUID(str(data.get("room_id")))
        secret = str(data.get("secret") or "")
        if type_ != "auth" or not secret:
            raise ValueError("auth required")
    except (DomainError, ValueError):
        await ws.close(CLOSE_UNAUTHENTICATED, "authenticate first")
        return
    async with ctx.sessionmaker() as db:
        room = await db.get(Room, room_id)
    if room is None or not verify_agent_secret(ctx.settings, secret, room.agent_secret_hash):
        await ws.close(CLOSE_UNAUTHENTICATED, "bad room or secret")
        return
    if room.status in (RoomStatus.ended, RoomStatus.ending, RoomStatus.failed):
        await ws.close(CLOSE_ENDED, "room ended")
        return
    if draining(ws):  # stopping: connect to another process
        await ws.close(CLOSE_SERVICE_RESTART, "service restart")
        return
    try:
        await serve_agent(get_hub(ws), ws, room)
    except WebSocketDisconnect:
        pass
