"""Saved browser profiles (issue 22, "Keep my browser profile"): what a room's agent loads and
saves through the control plane, and what the account page forgets.

The agent never holds credentials to the store: it fetches and saves its room host's profile
over the agent listener with its per-room secret (`api/routes/agent_profile.py`), and this
module decides whose profile that is (the room's host, only while the room keeps a profile and
is nobody's warm browser) and seals it (`profile_crypto.py`). Functions take the caller's
session and commit in it (docs/architecture.md, "Who owns a database session").
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from controlplane.errors import DomainError, Kind
from controlplane.models import LIVE_STATUSES, BrowserProfile, Room, RoomStatus
from controlplane.models.types import utcnow
from controlplane.rooms.profile_crypto import ProfileRefused, open_sealed, seal
from controlplane.settings import Settings

log = logging.getLogger(__name__)

# A save from the agent's last moments arrives while its room is `ending`, or just after it
# ended where the runtime's stop does not wait for the agent (a pod's deletion returns at once).
SAVES_FROM = (
    RoomStatus.creating,
    RoomStatus.starting,
    RoomStatus.ready,
    RoomStatus.idle,
    RoomStatus.ending,
)
LAST_SAVE_GRACE = timedelta(seconds=60)


def may_save(room: Room, now: datetime) -> bool:
    """Whether the room's agent may still save: while the room lives or ends, and for
    LAST_SAVE_GRACE after it ended (the agent's last save, sent on `room.ended`)."""
    if room.status in SAVES_FROM:
        return True
    return (
        room.status == RoomStatus.ended
        and room.ended_at is not None
        and now - room.ended_at <= LAST_SAVE_GRACE
    )


@dataclass(frozen=True)
class Loaded:
    """What the agent gets: the profile's JSON, or None and why not (`refused`, a code)."""

    profile: dict[str, Any] | None
    refused: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class ProfileInfo:
    bytes: int
    updated_at: datetime


def owner_of(room: Room) -> uuid.UUID:
    """Whose profile this room loads and saves: its host, while the room keeps one."""
    if not room.keep_profile or room.pooled or room.host_id is None:
        raise DomainError(Kind.conflict, "no_profile", "This room does not keep a browser profile")
    return room.host_id


def check_profile(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    """The agent's profile JSON, refused when it is too large or not a profile."""
    if len(raw) > max_bytes:
        raise DomainError(
            Kind.invalid,
            "profile_too_large",
            f"The browser profile is {len(raw)} bytes; at most {max_bytes} are kept",
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("cookies", []), list)
        or not isinstance(data.get("local_storage", {}), dict)
    ):
        raise DomainError(Kind.invalid, "bad_profile", "Not a browser profile")
    return data


async def load(*, session: AsyncSession, settings: Settings, room: Room) -> Loaded:
    """The host's profile for their room's agent. A damaged or oversized one is refused with a
    reason (the room starts clean, the blob is kept until the next save replaces it)."""
    owner = owner_of(room)
    if room.status not in LIVE_STATUSES:
        raise DomainError(Kind.gone, "room_ended", "This room has ended")
    row = await session.get(BrowserProfile, owner)
    if row is None:
        return Loaded(profile=None)
    try:
        raw = open_sealed(
            settings.PROFILE_SECRET_KEY, owner, row.sealed, max_bytes=settings.PROFILE_MAX_BYTES
        )
        profile = json.loads(raw)
        if not isinstance(profile, dict):
            raise ValueError("not an object")
    except ProfileRefused as exc:
        log.error(
            "browser profile refused: the room starts clean",
            extra={"room": room.room_code, "user_id": str(owner), "code": exc.code},
        )
        return Loaded(profile=None, refused=exc.code, detail=exc.detail)
    except ValueError:
        log.error(
            "browser profile refused: the room starts clean",
            extra={"room": room.room_code, "user_id": str(owner), "code": "profile_corrupt"},
        )
        return Loaded(profile=None, refused="profile_corrupt", detail="The profile is damaged")
    log.info(
        "browser profile loaded",
        extra={"room": room.room_code, "user_id": str(owner), "bytes": len(raw)},
    )
    return Loaded(profile=profile)


async def save(*, session: AsyncSession, settings: Settings, room: Room, raw: bytes) -> int:
    """Seal and keep the profile the room's agent sent (replacing the host's last one); its
    size. Refused for a room that keeps none or has ended, and past PROFILE_MAX_BYTES."""
    owner = owner_of(room)
    if not may_save(room, utcnow()):
        raise DomainError(Kind.gone, "room_ended", "This room has ended")
    check_profile(raw, max_bytes=settings.PROFILE_MAX_BYTES)
    sealed = seal(settings.PROFILE_SECRET_KEY, owner, raw, max_bytes=settings.PROFILE_MAX_BYTES)
    row = await session.get(BrowserProfile, owner)
    if row is None:
        session.add(BrowserProfile(user_id=owner, sealed=sealed, plain_bytes=len(raw)))
    else:
        row.sealed, row.plain_bytes, row.updated_at = sealed, len(raw), utcnow()
    await session.commit()
    log.info(
        "browser profile saved",
        extra={
            "room": room.room_code,
            "user_id": str(owner),
            "bytes": len(raw),
            "sealed_bytes": len(sealed),
        },
    )
    return len(raw)


async def await_last_save(
    *, session: AsyncSession, user_id: uuid.UUID, since: datetime, within_s: float
) -> bool:
    """Wait, at most `within_s`, for a save of the user's profile at or after `since` (the
    room's agent saves on `room.ended`; stopping its runtime at once would kill its browser
    mid-save). Whether it came. Commits the caller's session between reads (it holds nothing
    to write then), so each read sees the agent's commit."""
    deadline = time.monotonic() + within_s
    while True:
        at = (
            await session.execute(
                select(col(BrowserProfile.updated_at)).where(col(BrowserProfile.user_id) == user_id)
            )
        ).scalar_one_or_none()
        await session.commit()
        if at is not None and at >= since:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)


async def info(*, session: AsyncSession, user_id: uuid.UUID) -> ProfileInfo | None:
    row = await session.get(BrowserProfile, user_id)
    return None if row is None else ProfileInfo(bytes=row.plain_bytes, updated_at=row.updated_at)


async def forget(*, session: AsyncSession, user_id: uuid.UUID) -> bool:
    """Delete the user's saved profile ("Forget my browser profile"); whether there was one.
    A room of theirs still running saves again at its next save: forgetting is for the rooms
    that come after."""
    result = await session.execute(
        delete(BrowserProfile).where(col(BrowserProfile.user_id) == user_id)
    )
    await session.commit()
    gone = bool(getattr(result, "rowcount", 0))
    log.info("browser profile forgotten", extra={"user_id": str(user_id), "existed": gone})
    return gone
