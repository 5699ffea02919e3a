"""What the room agent's messages do (docs/protocol.md, "Agent → control plane"): a table from
message type to a typed model (`watchparty_wire.agent.AGENT_MESSAGES`) and to its handler.

Status changes go through the lifecycle executor (`rooms/transitions.py`), so the agent's
`stage` and `ready` race safely with the reaper and the start watcher.

Flood guard (a compromised room must not cost its members or the database a message per
frame): `browser.status`, `tabs.state` and `media.state` are coalesced per agent connection
like a member's `voice.state` (at most one relay per `state_interval_s`, the latest winning,
repeats dropped; `tabs.refused` and `media.refused` are limited like `error`);
`media.ended` moves the queue on at most once per 2 s (`together.py`); `stage` and `ready`,
which write the room row, at most once per `REPORT_INTERVAL_S` each; `error` reports are logged
and relayed at most `AGENT_ERRORS_PER_SECOND` a second; and the hub drops frames past
`AGENT_FLOOD_PER_SECOND` (`realtime/agent_session.py`, `serve_agent`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from watchparty_wire import agent as w
from watchparty_wire.agent import AgentError
from watchparty_wire.room import BrowserStatus, ErrorOut, RtcAnswerOut, TabsStateOut

from controlplane.errors import DomainError
from controlplane.ports import RoomEvents
from controlplane.realtime import messages as m
from controlplane.realtime.agent_media import media_figures
from controlplane.realtime.bus import Address
from controlplane.realtime.client_handlers import RoomIO
from controlplane.realtime.clipfiles import ClipFiles
from controlplane.realtime.connections import AgentConn, Flood
from controlplane.realtime.presence import Presence
from controlplane.realtime.together import Together
from controlplane.rooms import lifecycle, queries
from controlplane.rooms.transitions import transition

log = logging.getLogger(__name__)

# The room row records a heartbeat at most this often (the reaper's timeout is minutes).
SEEN_EVERY_S = 5.0
# `stage` and `ready` (each a write of the room row) are applied at most this often per agent
# connection; a repeat of the last one applied is dropped.
REPORT_INTERVAL_S = 1.0

AgentHandler = Callable[[AgentConn, Any], Awaitable[None]]


class AgentChannel:
    def __init__(
        self,
        *,
        io: RoomIO,
        events: RoomEvents,
        presence: Presence,
        sessionmaker: async_sessionmaker[AsyncSession],
        together: Together,
        clipfiles: ClipFiles,
        state_interval_s: float = 0.25,
    ) -> None:
        self.state_interval_s = state_interval_s
        self.io = io
        self.events = events
        self.presence = presence
        self.sessionmaker = sessionmaker
        self.table: dict[str, AgentHandler] = {
            "heartbeat": self._heartbeat,
            "stage": self._stage,
            "ready": self._ready,
            "browser.status": self._browser_status,
            "tabs.state": self._tabs_state,
            "tabs.refused": self._refused,
            "media.refused": self._refused,
            "media.state": together.media_state,
            "media.ended": together.media_ended,
            "rtc.answer": self._rtc_answer,
            "error": self._error,
            "clipboard.copied": clipfiles.copied,
            "file.chooser": clipfiles.chooser,
            "file.status": clipfiles.file_status,
            "download.refused": clipfiles.download_refused,
        }
        assert set(self.table) == set(w.AGENT_MESSAGES), "every agent message has a handler"

    async def handle(self, agent: AgentConn, text: str | None, room_code: str) -> None:
        """One frame from the agent. A malformed one is answered with `error`; a handler that
        fails is logged (the agent cannot do anything about it)."""
        if text is None:
            agent.send(AgentError(code="bad_message", message="Send JSON text frames"))
            return
        try:
            type_, data = m.parse_envelope(text)
        except DomainError as exc:
            agent.send(AgentError(code=exc.code, message=str(exc.detail)))
            return
        handler = self.table.get(type_)
        if handler is None:
            agent.send(AgentError(code="unknown_type", message=type_))
            return
        try:
            msg = m.validate(type_, data, w.AGENT_MESSAGES)
        except DomainError as exc:
            agent.send(AgentError(code=exc.code, message=str(exc.detail)))
            return
        try:
            await handler(agent, msg)
        except Exception:
            log.exception("agent message failed", extra={"room": room_code, "type": type_})

    async def _heartbeat(self, agent: AgentConn, msg: w.Heartbeat) -> None:
        agent.media = media_figures(msg.model_dump())
        if time.monotonic() - agent.last_seen > SEEN_EVERY_S:
            agent.last_seen = time.monotonic()
            await self._seen(agent.room_id)

    async def _seen(self, room_id: str) -> None:
        async with self.sessionmaker() as s:
            await queries.agent_seen(session=s, room_id=uuid.UUID(room_id))

    async def _stage(self, agent: AgentConn, msg: w.AgentStage) -> None:
        async def apply(stage: w.AgentStage) -> None:
            await self._transition(agent.room_id, lifecycle.AgentStage(stage=stage.stage))

        await agent.throttles.of("stage", REPORT_INTERVAL_S, dedupe=True).offer(msg, apply)

    async def _ready(self, agent: AgentConn, msg: w.AgentReady) -> None:
        async def apply(ready: w.AgentReady) -> None:
            # Seen first: whoever hears `ready` finds the heartbeat clock already started.
            await self._seen(agent.room_id)
            await self._transition(agent.room_id, lifecycle.AgentReady(video=ready.video()))

        await agent.throttles.of("ready", REPORT_INTERVAL_S, dedupe=True).offer(msg, apply)

    async def _transition(self, room_id: str, event: lifecycle.LifeEvent) -> None:
        async with self.sessionmaker() as s:
            await transition(session=s, events=self.events, room_id=uuid.UUID(room_id), event=event)

    async def _browser_status(self, agent: AgentConn, msg: w.AgentBrowserStatus) -> None:
        async def publish(fields: dict[str, Any]) -> None:
            status = BrowserStatus(**fields)
            await self.presence.set_browser(agent.room_id, status.data())
            await self.io.broadcast(agent.room_id, status)

        throttle = agent.throttles.of("browser.status", self.state_interval_s, dedupe=True)
        await throttle.offer(msg.model_dump(), publish)

    async def _tabs_state(self, agent: AgentConn, msg: w.AgentTabsState) -> None:
        """The room browser's tabs: kept for `room.state` and relayed, coalesced like
        `browser.status` (a page retitling its tabs in a loop costs the room 4 a second)."""

        async def publish(fields: dict[str, Any]) -> None:
            tabs = TabsStateOut.model_validate(fields)
            await self.presence.set_tabs(agent.room_id, tabs.data())
            await self.io.broadcast(agent.room_id, tabs)

        throttle = agent.throttles.of("tabs.state", self.state_interval_s, dedupe=True)
        await throttle.offer(msg.model_dump(), publish)

    async def _refused(self, agent: AgentConn, msg: w.MemberRefusal) -> None:
        """`tabs.refused`, `media.refused`: to the socket that asked, as the control plane's own
        refusals read (limited like `error` reports: a flood of them is dropped)."""
        if agent.errors.hit() is not Flood.ok or not msg.conn:
            return
        log.info(
            "agent refused a member's command",
            extra={"room": agent.room_id, "type": msg.type, "code": msg.code},
        )
        refused = ErrorOut(code=msg.code, detail=msg.message, type=msg.type or None)
        await self.io.direct(agent.room_id, Address.conn(msg.conn), refused)

    async def _rtc_answer(self, agent: AgentConn, msg: w.AgentAnswer) -> None:
        to = Address.conn(msg.conn) if msg.conn else Address.user(msg.to)
        await self.io.direct(agent.room_id, to, RtcAnswerOut(from_="agent", sdp=msg.sdp))

    async def _error(self, agent: AgentConn, msg: w.AgentReport) -> None:
        flood = agent.errors.hit()
        if flood is Flood.warn:
            log.warning(
                "agent error reports over the limit: dropped for the rest of the second",
                extra={"room": agent.room_id, "per_second": agent.errors.limit},
            )
        if flood is not Flood.ok:
            return
        log.warning(
            "agent reported an error",
            extra={"room": agent.room_id, "agent_error": msg.model_dump()},
        )
        if msg.conn:
            relayed = ErrorOut(code="agent_error", detail=msg.message, agent_code=msg.code)
            await self.io.direct(agent.room_id, Address.conn(msg.conn), relayed)
