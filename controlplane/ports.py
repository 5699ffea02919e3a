"""The ports: what the application services need of the world outside them, as typing Protocols.

Services (rooms, auth, the reaper) hold these through `AppContext` and never the objects behind
them: the hub (`realtime/hub.py`) is the room's `RoomEvents` and the reaper's `Liveness`, the
presence store is a `PresenceView`, a SQL table or Redis is the `SessionStore`. Which object
stands behind each port is decided at the entry layer (`controlplane/wiring.py`), so the
dependencies point one way: services -> these ports <- adapters and the hub. This module is
pure (no I/O, no framework): it names shapes only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from watchparty_wire.room import RoomStatusData

from controlplane.models.room import RoomStage, RoomStatus

# ---------------------------------------------------------------- telling a room


@dataclass(frozen=True)
class StatusNews:
    """What the room is told of a change: the fields of its one `room.status` message."""

    status: RoomStatus
    stage: RoomStage | None = None
    agent_connected: bool | None = None
    reason: str | None = None
    video: dict[str, Any] | None = None

    def message(self) -> RoomStatusData:
        """The one `room.status` shape."""
        return RoomStatusData(
            status=self.status,
            stage=self.stage,
            agent_connected=self.agent_connected,
            reason=self.reason,
            video=self.video,
        )


class RoomEvents(Protocol):
    """What services and the reaper tell a room: the one door from the domain to the live
    sockets. The hub implements it by broadcasting on the bus, so a call reaches every socket of
    the room on every replica.

    Each call is made after the change it announces is committed; none of them raises for a
    room nobody is connected to."""

    async def status_changed(self, room_id: uuid.UUID, news: StatusNews) -> None:
        """The room's status or start stage changed (said by `rooms/transitions.py` alone)."""
        ...

    async def room_ended(self, room_id: uuid.UUID, *, by: str | None, reason: str) -> None:
        """Sockets close with 4410 and the agent exits."""
        ...

    async def participant_removed(
        self, room_id: uuid.UUID, *, user_id: str, reason: Literal["left", "kicked"], by: str
    ) -> None:
        """Left through the REST API or kicked: the remote is freed, their sockets close."""
        ...

    async def host_changed(
        self, room_id: uuid.UUID, *, host_id: str, previous: str, by: str
    ) -> None: ...

    async def room_assigned(
        self, room_id: uuid.UUID, *, start_url: str | None, keep: bool, block_ads: bool = True
    ) -> None:
        """A warm-pool browser became this room: its agent wipes the profile and loads the page
        (after loading the host's saved browser profile, with `keep`), blocking ads or not."""
        ...

    async def chat_cleared(self, room_id: uuid.UUID, *, by: str) -> None: ...

    async def warned(self, room_id: uuid.UUID, *, ends_at: datetime, seconds_left: int) -> None:
        """The room ends in `seconds_left` s (it reached its maximum length)."""
        ...

    async def settings_changed(self, room_id: uuid.UUID, *, settings: dict[str, bool]) -> None:
        """The host changed the room's settings (`room.settings` to the room, `settings` its
        fields, and to its agent the ones it applies); with the host's profile loaded and
        others no longer allowed to drive, the remote goes back to the host."""
        ...


# ---------------------------------------------------------------- who is really there


class PresenceView(Protocol):
    """What services read of presence (shared across replicas: Redis, or this process's memory
    in embedded mode). The presence store (`realtime/presence.py`) has it and more."""

    async def agent(self, room_id: str) -> str | None:
        """The socket id serving the room's agent, or None when no agent is connected."""
        ...

    async def online(self, room_id: str) -> set[str]:
        """The ids of the users with an open socket in the room."""
        ...


class Liveness(Protocol):
    """The reaper's port to the sockets of API processes that died: their presence entries
    would keep a room "occupied" (and its agent "connected") forever. The hub implements it."""

    async def reap_dead_instances(self, room_id: str) -> list[str]:
        """Forget the room's sockets held by processes whose liveness mark expired; the conn
        ids removed."""
        ...


# ---------------------------------------------------------------- login sessions


class SessionRecord(BaseModel):
    """One refresh-token login session (the token itself is never stored)."""

    id: uuid.UUID
    user_id: uuid.UUID
    nonce: str
    generation: int
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    ip: str | None = None


class SessionStore(Protocol):
    """Where refresh-token sessions live (`auth/session_store.py`: SQL in embedded mode, Redis
    when configured). `advance` is a compare-and-set on the generation, so two concurrent
    refreshes with the same token cannot both succeed."""

    async def create(self, record: SessionRecord) -> None: ...
    async def get(self, session_id: uuid.UUID) -> SessionRecord | None: ...
    async def advance(
        self,
        session_id: uuid.UUID,
        *,
        expected_generation: int,
        used_at: datetime,
        expires_at: datetime,
    ) -> bool: ...
    async def delete(self, session_id: uuid.UUID) -> bool: ...
    async def list_for_user(self, user_id: uuid.UUID) -> list[SessionRecord]: ...
    async def delete_for_user(self, user_id: uuid.UUID) -> None: ...
