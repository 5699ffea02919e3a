"""Watching together (issue 21) on the room socket and the agent channel: media commands any
member may give, reactions, pointing at the picture, the "Up next" queue, and the page's media
state the agent reports (docs/protocol.md).

Who may do what is `rooms/together.py`'s (pure); the queue's SQL is `rooms/queue.py`'s; what the
chat says about it is `system_lines.py`'s. Concurrency contract: queue changes of one room are
applied one at a time, in this process by a per-room lock and across replicas by the room row's
lock (`queue.lock_room`), and each is broadcast before its transaction commits, while the lock is
held, so every client sees the changes in the order they took effect (a commit that fails after
its broadcast is corrected by the next change's full queue).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from watchparty_wire import agent as wa
from watchparty_wire import room as w
from watchparty_wire.agent import AgentMediaCmd, AgentNavigate
from watchparty_wire.envelope import Outbound
from watchparty_wire.room import MediaStateOut, Pointer, QueueChanged, Reaction

from controlplane.errors import DomainError, Kind
from controlplane.models import LIVE_STATUSES, Room
from controlplane.realtime.bus import AGENT, Address
from controlplane.realtime.connections import AgentConn, ClientConn
from controlplane.realtime.presence import Presence
from controlplane.realtime.remote import RemoteState
from controlplane.realtime.system_lines import SystemLines
from controlplane.rooms import queue
from controlplane.rooms.together import (
    REACTIONS,
    Who,
    may_add_to_queue,
    may_control_media,
    may_move_in_queue,
    may_remove_from_queue,
    up_next_line,
)
from controlplane.rooms.url_policy import UrlRejected, check_url_async
from controlplane.services.ratelimit import RateLimiter
from controlplane.settings import Settings

log = logging.getLogger(__name__)

# `pointer.show` is relayed at most this often per socket (10 a second), the latest winning.
POINTER_INTERVAL_S = 0.1
# `media.ended` moves the queue on at most once per this many seconds per agent connection: a
# compromised agent must not be able to empty the queue in a second.
ADVANCE_MIN_INTERVAL_S = 2.0
# What people may type for ❤️ without its variation selector.
_EMOJI_ALIASES = {"❤": "❤️"}


class TogetherIO(Protocol):
    """What of the hub this needs (a part of `client_handlers.RoomIO`)."""

    async def broadcast(self, room_id: uuid.UUID | str, msg: Outbound) -> int: ...

    async def direct(self, room_id: str, to: Address, msg: Outbound) -> None: ...

    async def remote_state(self, room_id: str) -> tuple[str, RemoteState]: ...


def _refuse(kind: Kind, code: str, detail: Any) -> DomainError:
    return DomainError(kind, code, detail)


class Together:
    def __init__(
        self,
        *,
        io: TogetherIO,
        settings: Settings,
        presence: Presence,
        sessionmaker: async_sessionmaker[AsyncSession],
        rate_limiter: RateLimiter,
        engine: AsyncEngine,
    ) -> None:
        self.io = io
        self.settings = settings
        self.presence = presence
        self.sessionmaker = sessionmaker
        self.rate_limiter = rate_limiter
        # the chat's system lines of media commands and queue advances (coalesced, stored)
        self.lines = SystemLines(
            io=io, engine=engine, window_s=settings.ROOM_MEDIA_LINE_COALESCE_SECONDS
        )
        self._queue_locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def _who(self, conn_room: str, user_id: str, room: Room) -> Who:
        _, remote = await self.io.remote_state(conn_room)
        return Who(user_id=user_id, host_id=str(room.host_id), holder_id=remote.holder_id)

    # ---------------------------------------------------------------- media

    async def media_cmd(self, conn: ClientConn, msg: w.MediaCmd) -> None:
        async with self.sessionmaker() as s:
            room = await s.get(Room, uuid.UUID(conn.room_id))
        if room is None:
            raise _refuse(Kind.gone, "room_ended", "This room has ended")
        who = await self._who(conn.room_id, conn.user_id, room)
        if not may_control_media(who, anyone_can_pause=room.anyone_can_pause):
            raise _refuse(
                Kind.forbidden,
                "not_allowed",
                "In this room only the host and the holder of the remote control the media",
            )
        if await self.presence.agent(conn.room_id) is None:
            raise _refuse(
                Kind.unavailable, "agent_unavailable", "The room's browser is not connected yet"
            )
        media = await self.presence.media(conn.room_id)
        if not media or not media.get("present"):
            raise _refuse(Kind.conflict, "no_media", "The page has no video or audio to control")
        cmd = AgentMediaCmd(action=msg.action, value=msg.value, conn=conn.id)
        await self.io.direct(conn.room_id, AGENT, cmd)
        log.info(
            "media command",
            extra={"room": conn.room_id, "user_id": conn.user_id, "action": msg.action},
        )
        now_s = media.get("time")
        self.lines.media(
            conn.room_id,
            conn.user_id,
            conn.username,
            msg.action,
            msg.value,
            float(now_s) if isinstance(now_s, int | float) else None,
        )

    async def media_state(self, agent: AgentConn, msg: wa.AgentMediaState) -> None:
        """Relayed to the room and kept for `room.state`, coalesced like `browser.status`: at
        most one per ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS, the latest winning, repeats
        dropped (the agent sends one every 0.5 s while playing and on every change)."""

        async def publish(fields: dict[str, Any]) -> None:
            state = MediaStateOut(**fields)
            await self.presence.set_media(agent.room_id, state.data())
            await self.io.broadcast(agent.room_id, state)

        fields = msg.model_dump() if msg.present else {"present": False}
        interval = self.settings.ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS
        await agent.throttles.of("media.state", interval, dedupe=True).offer(fields, publish)

    async def media_ended(self, agent: AgentConn, msg: wa.AgentMediaEnded) -> None:
        """The main media ended: the queue's first address leaves it and the room's browser
        opens it ("Up next: …" in the chat)."""
        now = time.monotonic()
        if now - agent.last_advance < ADVANCE_MIN_INTERVAL_S:
            log.warning(
                "media.ended too soon after the last: ignored", extra={"room": agent.room_id}
            )
            return
        agent.last_advance = now
        room_id = agent.room_id
        url: str | None = None
        async with self._queue_lock(room_id), self.sessionmaker() as s:
            room = await queue.lock_room(session=s, room_id=uuid.UUID(room_id))
            if room.status not in LIVE_STATUSES:
                return
            taken = 0
            while url is None:
                popped = await queue.pop_first(session=s, room_id=room.id)
                if popped is None:
                    break
                taken += 1
                entry, adder = popped
                try:
                    # Checked again: what its name resolves to may have changed since it was
                    # queued.
                    url = await check_url_async(
                        entry.url, allow_private=self.settings.ROOM_ALLOW_PRIVATE_URLS
                    )
                except UrlRejected as exc:
                    log.warning(
                        "queued address refused at its turn: skipped",
                        extra={"room": room_id, "url": entry.url[:200], "reason": str(exc)},
                    )
            if taken:
                await self._announce(s, room.id)
            await s.commit()
        if url is None:
            return
        await self.io.direct(room_id, AGENT, AgentNavigate(url=url))
        log.info(
            "queue moved on", extra={"room": room_id, "ended": msg.url[:200], "url": url[:200]}
        )
        await self.lines.say(room_id, str(entry.added_by), adder, up_next_line(entry.title, url))

    # ---------------------------------------------------------------- reactions and pointer

    async def reaction(self, conn: ClientConn, msg: w.ReactionSend) -> None:
        emoji = _EMOJI_ALIASES.get(msg.emoji, msg.emoji)
        if emoji not in REACTIONS:
            raise _refuse(Kind.invalid, "bad_request", f"Reactions are {' '.join(REACTIONS)}")
        retry = await self.rate_limiter.hit(
            f"reaction:{conn.room_id}:{conn.user_id}",
            limit=self.settings.ROOM_REACTION_RATE_COUNT,
            window_s=self.settings.ROOM_REACTION_RATE_SECONDS,
        )
        if retry is not None:
            raise _refuse(
                Kind.rate_limited,
                "rate_limited",
                {"message": "Too many reactions", "retry_after": retry},
            )
        await self.io.broadcast(
            conn.room_id,
            Reaction(
                id=uuid.uuid4().hex, user_id=conn.user_id, username=conn.username, emoji=emoji
            ),
        )

    async def pointer(self, conn: ClientConn, msg: w.PointerShow) -> None:
        """Relayed to everyone, coalesced per socket (at most 10 a second, the latest wins). It
        never reaches the agent: the room's mouse stays where the holder left it."""

        async def publish(at: tuple[float, float]) -> None:
            if conn.outbox.closing:
                return
            pointer = Pointer(user_id=conn.user_id, username=conn.username, x=at[0], y=at[1])
            await self.io.broadcast(conn.room_id, pointer)

        throttle = conn.throttles.of("pointer.show", POINTER_INTERVAL_S, dedupe=False)
        await throttle.offer((msg.x, msg.y), publish)

    # ---------------------------------------------------------------- the queue

    @asynccontextmanager
    async def _queue_lock(self, room_id: str) -> AsyncIterator[None]:
        """This process's turn to change the room's queue. The lock is kept while anyone holds
        or waits for it (counted), then forgotten, so ended rooms leave nothing behind."""
        lock, users = self._queue_locks.get(room_id, (asyncio.Lock(), 0))
        self._queue_locks[room_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._queue_locks[room_id]
            if users <= 1:
                del self._queue_locks[room_id]
            else:
                self._queue_locks[room_id] = (lock, users - 1)

    async def _announce(self, s: AsyncSession, room_id: uuid.UUID) -> None:
        rows = await queue.entries(session=s, room_id=room_id)
        await self.io.broadcast(room_id, QueueChanged(queue=queue.public(rows)))

    async def queue_add(self, conn: ClientConn, msg: w.Navigate) -> None:
        try:
            url = await check_url_async(
                msg.url, allow_private=self.settings.ROOM_ALLOW_PRIVATE_URLS
            )
        except UrlRejected as exc:
            raise _refuse(Kind.invalid, "url_not_allowed", str(exc)) from None
        async with self._queue_lock(conn.room_id), self.sessionmaker() as s:
            room = await queue.lock_room(session=s, room_id=uuid.UUID(conn.room_id))
            who = await self._who(conn.room_id, conn.user_id, room)
            if not may_add_to_queue(who, queue_host_only=room.queue_host_only):
                raise _refuse(
                    Kind.forbidden,
                    "not_allowed",
                    "In this room only the host and the holder of the remote add to the queue",
                )
            await queue.add(
                session=s,
                room_id=room.id,
                url=url,
                user_id=uuid.UUID(conn.user_id),
                cap=self.settings.ROOM_QUEUE_MAX,
            )
            await self._announce(s, room.id)
            await s.commit()

    async def queue_remove(self, conn: ClientConn, msg: w.QueueRemove) -> None:
        async with self._queue_lock(conn.room_id), self.sessionmaker() as s:
            room = await queue.lock_room(session=s, room_id=uuid.UUID(conn.room_id))
            entry = await queue.get(session=s, room_id=room.id, entry_id=msg.id)
            who = await self._who(conn.room_id, conn.user_id, room)
            if not may_remove_from_queue(who, added_by=str(entry.added_by)):
                raise _refuse(
                    Kind.forbidden,
                    "not_allowed",
                    "Only the host and whoever added it remove an address from the queue",
                )
            await queue.remove(session=s, entry=entry)
            await self._announce(s, room.id)
            await s.commit()

    async def queue_move(self, conn: ClientConn, msg: w.QueueMove) -> None:
        async with self._queue_lock(conn.room_id), self.sessionmaker() as s:
            room = await queue.lock_room(session=s, room_id=uuid.UUID(conn.room_id))
            who = await self._who(conn.room_id, conn.user_id, room)
            if not may_move_in_queue(who):
                raise _refuse(Kind.forbidden, "not_allowed", "Only the host orders the queue")
            await queue.get(session=s, room_id=room.id, entry_id=msg.id)
            await queue.move(session=s, room_id=room.id, entry_id=msg.id, index=msg.index)
            await self._announce(s, room.id)
            await s.commit()
