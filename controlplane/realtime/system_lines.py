"""The chat's system lines (issue 21): what the room says on a member's behalf ("ana paused at
12:31", "Up next: …"), stored like chat (`kind: "system"`, `user_id` the member who caused it)
and broadcast as `chat.message`, so a reload shows them.

Media lines are coalesced per member: the first command of a burst opens a window of
ROOM_MEDIA_LINE_COALESCE_SECONDS, and when it closes, one line says where the burst led (the
latest command wins; seeks add up, `rooms/together.merge_media_line`). A member scrubbing the
position slider writes one line, not forty. The window is per process: a member whose commands
arrive on two replicas in one window gets a line from each.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from controlplane.realtime.outbound import Outbound
from controlplane.realtime.state_snapshot import chat_message
from controlplane.rooms import queries
from controlplane.rooms.together import MediaAction, MediaLine, media_line, merge_media_line

log = logging.getLogger(__name__)


class Broadcaster(Protocol):
    async def broadcast(self, room_id: uuid.UUID | str, msg: Outbound) -> int: ...


class SystemLines:
    """Concurrency contract: called on the event loop; one pending line and one timer task per
    (room, member); `cancel_all` at shutdown drops lines still waiting."""

    def __init__(self, *, io: Broadcaster, engine: AsyncEngine, window_s: float) -> None:
        self._io = io
        # Single INSERTs, like chat messages: autocommit.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.window_s = window_s
        self._pending: dict[tuple[str, str], tuple[MediaLine, str]] = {}
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def say(self, room_id: str, user_id: str, username: str, text: str) -> None:
        """Store and broadcast one line now."""
        async with self._autocommit.connect() as db:
            row, _ = await queries.add_message(
                conn=db,
                room_id=uuid.UUID(room_id),
                user_id=uuid.UUID(user_id),
                text=text,
                kind="system",
            )
        await self._io.broadcast(room_id, chat_message(row, username))

    def media(
        self,
        room_id: str,
        user_id: str,
        username: str,
        action: MediaAction,
        value: float | None,
        now_s: float | None,
    ) -> None:
        """An accepted media command: merged into the member's pending line, said when the
        window that the burst's first command opened closes."""
        key = (room_id, user_id)
        pending = self._pending.get(key)
        line = merge_media_line(pending[0] if pending else None, action, value, now_s)
        self._pending[key] = (line, username)
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(
                self._after_window(key), name=f"media-line-{room_id}-{user_id}"
            )

    async def _after_window(self, key: tuple[str, str]) -> None:
        try:
            await asyncio.sleep(self.window_s)
        finally:
            self._tasks.pop(key, None)
        pending = self._pending.pop(key, None)
        if pending is None:
            return
        line, username = pending
        room_id, user_id = key
        try:
            await self.say(room_id, user_id, username, media_line(username, line))
        except Exception:
            log.exception("media system line failed", extra={"room": room_id, "user_id": user_id})

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self._pending.clear()
