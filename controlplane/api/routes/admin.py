"""Administrators: every room, and ending any of them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from controlplane.api.deps import Ctx, CurrentSuperuser, DbSession, RoomByCode
from controlplane.rooms import service, warm_pool
from controlplane.rooms.ending import end_room as end
from controlplane.rooms.schemas import RoomPublic, RoomsPublic, WarmPoolPublic

router = APIRouter(
    prefix="/admin",
    tags=["admin"],
    responses={
        401: {"description": "Not signed in"},
        403: {"description": "Administrators only"},
    },
)


@router.get("/rooms")
async def list_rooms(
    admin: CurrentSuperuser,
    db: DbSession,
    ctx: Ctx,
    state: Literal["live", "ended", "all"] = "live",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RoomsPublic:
    rooms, total = await service.list_all_rooms(session=db, state=state, limit=limit, offset=offset)
    return RoomsPublic(data=[RoomPublic.of(r, ctx.settings) for r in rooms], count=total)


@router.post(
    "/rooms/{code}/end",
    responses={404: {"description": "No such room"}, 429: {"description": "Too many wrong codes"}},
)
async def end_room(
    admin: CurrentSuperuser, db: DbSession, ctx: Ctx, room: RoomByCode
) -> RoomPublic:
    room = await end(
        ctx=ctx, session=db, room=room, by=str(admin.id), reason="ended by an administrator"
    )
    return RoomPublic.of(room, ctx.settings)


@router.get("/pool")
async def pool(admin: CurrentSuperuser, ctx: Ctx) -> WarmPoolPublic:
    """The warm pool (ROOM_WARM_POOL): browsers ready to be handed out, and those starting."""
    return WarmPoolPublic(**await warm_pool.size(ctx=ctx))
