"""`/api/rooms/{code}/ws`: authenticate the first frame, check membership, hand to the hub."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from controlplane.api.deps import user_from_token
from controlplane.api.errors import ApiError
from controlplane.context import AppContext
from controlplane.models import RoomStatus
from controlplane.realtime import hub as h
from controlplane.realtime import messages as m
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


@router.websocket("/rooms/{code}/ws")
async def room_socket(ws: WebSocket, code: str) -> None:
    ctx: AppContext = ws.app.state.ctx
    settings = ctx.settings
    await ws.accept()
    try:
        raw = await _first_frame(ws, settings.ROOM_WS_AUTH_TIMEOUT_SECONDS)
    except WebSocketDisconnect:
        return
    if raw is None or len(raw) > settings.ROOM_WS_MAX_FRAME_BYTES:
        await ws.close(h.CLOSE_UNAUTHENTICATED, "authenticate first")
        return
    try:
        type_, data = m.parse_envelope(raw)
        if type_ != "auth":
            raise m.BadMessage("auth_required", "The first message must be auth")
        token = m.Auth.model_validate(data).token
    except (m.BadMessage, ValueError):
        await ws.close(h.CLOSE_UNAUTHENTICATED, "authenticate first")
        return
    async with ctx.sessionmaker() as db:
        user = await user_from_token(ctx, db, token)
        if user is None:
            await ws.close(h.CLOSE_UNAUTHENTICATED, "invalid or expired token")
            return
        try:
            room = await service.get_room(session=db, code=code)
        except ApiError:
            await ws.close(h.CLOSE_NOT_FOUND, "no such room")
            return
        if room.status in (RoomStatus.ended, RoomStatus.ending):
            await ws.close(h.CLOSE_ENDED, "room ended")
            return
        p = await service.get_participant(session=db, room_id=room.id, user_id=user.id)
        if not service.is_active(p):
            await ws.close(h.CLOSE_FORBIDDEN, "not a member of this room")
            return
    try:
        await ctx.hub.serve_client(ws, room, user)
    except WebSocketDisconnect:
        pass
