"""`/internal/agents/profile`: a room agent loads and saves its host's browser profile
(docs/protocol.md, "Browser profile"), authenticated like its socket: the room id and the
per-room secret (`Authorization: Agent <room id>:<secret>`). Served on the agent listener only
(`api/listeners.py`); the body may be up to PROFILE_MAX_BYTES (`api/body_limit.py`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from pydantic import BaseModel

from controlplane.api.deps import Ctx, DbSession
from controlplane.api.errors import ApiError
from controlplane.models import Room
from controlplane.rooms import profiles
from controlplane.rooms.agent_secret import verify_agent_secret

AGENT_PROFILE_PATH = "/internal/agents/profile"
router = APIRouter(include_in_schema=False)


class ProfileLoad(BaseModel):
    """The profile to load (None: start clean), and why none when one was refused."""

    profile: dict[str, Any] | None
    refused: str | None = None
    detail: str | None = None


async def _room(ctx: Ctx, db: DbSession, authorization: str | None) -> Room:
    scheme, _, credentials = (authorization or "").partition(" ")
    room_id, _, secret = credentials.partition(":")
    try:
        rid = uuid.UUID(room_id)
    except ValueError:
        rid = None
    room = await db.get(Room, rid) if rid is not None and scheme == "Agent" else None
    if room is None or not verify_agent_secret(ctx.settings, secret, room.agent_secret_hash):
        raise ApiError(401, "unauthenticated", "Bad room or secret")
    return room


@router.get(AGENT_PROFILE_PATH, response_model=ProfileLoad)
async def load_profile(
    ctx: Ctx, db: DbSession, authorization: Annotated[str | None, Header()] = None
) -> ProfileLoad:
    room = await _room(ctx, db, authorization)
    loaded = await profiles.load(session=db, settings=ctx.settings, room=room)
    return ProfileLoad(profile=loaded.profile, refused=loaded.refused, detail=loaded.detail)


@router.put(AGENT_PROFILE_PATH, status_code=status.HTTP_204_NO_CONTENT)
async def save_profile(
    request: Request,
    ctx: Ctx,
    db: DbSession,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    room = await _room(ctx, db, authorization)
    await profiles.save(session=db, settings=ctx.settings, room=room, raw=await request.body())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
