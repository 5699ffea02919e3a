"""Rooms REST API: lifecycle, membership, host actions and chat history."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from controlplane.api.deps import Ctx, CurrentUser, DbSession, RoomByCode
from controlplane.errors import DomainError, Kind
from controlplane.rooms import queries, service
from controlplane.rooms.ending import end_room as end
from controlplane.rooms.schemas import (
    HostTransfer,
    MessagePublic,
    MessagesPage,
    ParticipantPublic,
    RoomCreate,
    RoomDetail,
    RoomPublic,
    RoomSettings,
    RoomSettingsPatch,
    RoomsPublic,
    UserRef,
)

router = APIRouter(prefix="/rooms", tags=["rooms"])

# Every route with a `{code}` spends the wrong-code budget (RoomByCode): 429 past it.
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not signed in"},
    403: {"description": "Not allowed (not a member, not the host, kicked)"},
    404: {"description": "No such room"},
    429: {"description": "Too many wrong room codes"},
}


@router.post(
    "",
    status_code=201,
    responses={
        422: {"description": "Invalid body or start_url not allowed"},
        429: {"description": "Too many rooms created this hour"},
        503: {"description": "The deployment is at its live-room limit"},
    },
)
async def create_room(body: RoomCreate, user: CurrentUser, db: DbSession, ctx: Ctx) -> RoomPublic:
    room = await service.create_room(ctx=ctx, session=db, user=user, body=body)
    return RoomPublic.of(room, ctx.settings)


@router.get("")
async def list_my_rooms(
    user: CurrentUser,
    db: DbSession,
    ctx: Ctx,
    state: Literal["live", "ended", "all"] = "all",
) -> RoomsPublic:
    rooms = await service.list_rooms(session=db, user=user, state=state)
    return RoomsPublic(data=[RoomPublic.of(r, ctx.settings) for r in rooms], count=len(rooms))


@router.get("/{code}", responses=_ERRORS)
async def get_room(room: RoomByCode, db: DbSession, ctx: Ctx) -> RoomDetail:
    return await service.detail(ctx=ctx, session=db, room=room)


@router.patch(
    "/{code}/settings",
    responses={
        **_ERRORS,
        403: {"description": "Not the host"},
        410: {"description": "Room ended"},
    },
)
async def update_room_settings(
    body: RoomSettingsPatch, user: CurrentUser, db: DbSession, ctx: Ctx, room: RoomByCode
) -> RoomSettings:
    """The host changes the room's settings; everyone in it gets `room.settings`."""
    return await service.update_settings(ctx=ctx, session=db, room=room, actor=user, patch=body)


@router.get("/{code}/participants", responses=_ERRORS)
async def list_participants(
    user: CurrentUser, db: DbSession, room: RoomByCode
) -> list[ParticipantPublic]:
    await service.require_member(session=db, room=room, user=user)
    return [
        ParticipantPublic(
            user_id=p.user_id,
            username=name,
            is_host=p.user_id == room.host_id,
            joined_at=p.joined_at,
            left_at=p.left_at,
            kicked=p.kicked,
        )
        for p, name in await queries.participants(session=db, room_id=room.id)
        if queries.is_active(p)
    ]


@router.post(
    "/{code}/join",
    responses={
        **_ERRORS,
        409: {"description": "Room full"},
        410: {"description": "Room ended"},
    },
)
async def join_room(
    user: CurrentUser, db: DbSession, ctx: Ctx, room: RoomByCode
) -> ParticipantPublic:
    p = await service.join(ctx=ctx, session=db, room=room, user=user)
    return ParticipantPublic(
        user_id=p.user_id,
        username=user.username,
        is_host=p.user_id == room.host_id,
        joined_at=p.joined_at,
        left_at=p.left_at,
        kicked=p.kicked,
    )


@router.post("/{code}/leave", status_code=204, responses=_ERRORS)
async def leave_room(user: CurrentUser, db: DbSession, ctx: Ctx, room: RoomByCode) -> Response:
    await service.leave(ctx=ctx, session=db, room=room, user=user)
    return Response(status_code=204)


@router.post("/{code}/end", responses=_ERRORS)
async def end_room(user: CurrentUser, db: DbSession, ctx: Ctx, room: RoomByCode) -> RoomPublic:
    service.require_host(room, user, admin_ok=True)
    reason = "ended by the host" if user.id == room.host_id else "ended by an administrator"
    room = await end(ctx=ctx, session=db, room=room, by=str(user.id), reason=reason)
    return RoomPublic.of(room, ctx.settings)


@router.delete(
    "/{code}/participants/{user_id}",
    status_code=204,
    responses={**_ERRORS, 409: {"description": "The host cannot be kicked"}},
)
async def kick_participant(
    user_id: uuid.UUID, user: CurrentUser, db: DbSession, ctx: Ctx, room: RoomByCode
) -> Response:
    await service.kick(ctx=ctx, session=db, room=room, actor=user, user_id=user_id)
    return Response(status_code=204)


@router.post("/{code}/host", responses={**_ERRORS, 410: {"description": "Room ended"}})
async def transfer_host(
    body: HostTransfer, user: CurrentUser, db: DbSession, ctx: Ctx, room: RoomByCode
) -> RoomPublic:
    room = await service.transfer_host(
        ctx=ctx, session=db, room=room, actor=user, user_id=body.user_id
    )
    return RoomPublic.of(room, ctx.settings)


@router.get("/{code}/messages", responses=_ERRORS)
async def chat_history(
    user: CurrentUser,
    db: DbSession,
    room: RoomByCode,
    before: Annotated[uuid.UUID | None, Query(description="A message id: page before it")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MessagesPage:
    await service.require_member(session=db, room=room, user=user)
    rows, has_more = await queries.history(session=db, room_id=room.id, before=before, limit=limit)
    return MessagesPage(
        data=[
            MessagePublic(
                id=msg.id,
                user=UserRef(id=msg.user_id, username=name),
                text=msg.message,
                created_at=msg.created_at,
                kind="system" if msg.kind == "system" else "user",
            )
            for msg, name in rows
        ],
        has_more=has_more,
    )


@router.delete("/{code}/messages", status_code=204, responses=_ERRORS)
async def delete_chat_history(
    user: CurrentUser, db: DbSession, ctx: Ctx, room: RoomByCode
) -> Response:
    if room.host_id != user.id and not user.is_superuser:
        await service.require_member(session=db, room=room, user=user)
        raise DomainError(Kind.forbidden, "not_host", "Only the host can delete the chat history")
    await service.delete_history(ctx=ctx, session=db, room=room, actor=user)
    return Response(status_code=204)
