"""What services and the reaper tell a room: the one door from the domain to the live sockets.

The hub (`controlplane/realtime/hub.py`) implements it by broadcasting on the bus, so a call
reaches every socket of the room on every replica. Services hold a `RoomEvents`, never the hub
itself, which keeps the dependencies pointing one way: services -> this interface <- the hub.

Each call is made after the change it announces is committed; none of them raises for a room
nobody is connected to.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Protocol

from controlplane.rooms.lifecycle import StatusNews


class RoomEvents(Protocol):
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

    async def room_assigned(self, room_id: uuid.UUID, *, start_url: str | None) -> None:
        """A warm-pool browser became this room: its agent wipes the profile and loads the page."""
        ...

    async def chat_cleared(self, room_id: uuid.UUID, *, by: str) -> None: ...

    async def settings_changed(
        self, room_id: uuid.UUID, *, anyone_can_pause: bool, queue_host_only: bool
    ) -> None:
        """The host changed the room's settings (`room.settings`)."""
        ...

    async def warned(self, room_id: uuid.UUID, *, ends_at: datetime, seconds_left: int) -> None:
        """The room ends in `seconds_left` s (it reached its maximum length)."""
        ...
