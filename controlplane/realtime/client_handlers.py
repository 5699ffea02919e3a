"""What a room socket's messages do: one handler per client message type, in a table.

Handlers reach the room only through `RoomIO` (implemented by the hub): broadcast, a direct
message, a reply to the socket, the remote's compare-and-set. A handler refuses with a
`DomainError`, which `handle` turns into an `error` reply; the socket stays open.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from watchparty_wire import room as w
from watchparty_wire.agent import FORWARDED_INPUT, AgentNavigate, AgentOffer
from watchparty_wire.envelope import Inbound, Outbound
from watchparty_wire.room import (
    ChatTypingOut,
    ErrorOut,
    Pong,
    RtcAnswerOut,
    RtcIceOut,
    RtcOfferOut,
    VoiceLeftOut,
    VoiceStateOut,
)

from controlplane.errors import DomainError, Kind
from controlplane.models import RoomStatus
from controlplane.realtime import messages as m
from controlplane.realtime.bus import AGENT, Address
from controlplane.realtime.clipfiles import ClipFiles
from controlplane.realtime.connections import ClientConn
from controlplane.realtime.presence import Presence
from controlplane.realtime.remote import Action, RemoteState, Transition, apply
from controlplane.realtime.state_snapshot import chat_message
from controlplane.realtime.tabs import Tabs
from controlplane.realtime.together import Together
from controlplane.rooms import queries
from controlplane.rooms.text import clean_text
from controlplane.rooms.url_policy import UrlRejected, check_url_async
from controlplane.services.ratelimit import RateLimiter
from controlplane.settings import Settings

log = logging.getLogger(__name__)

TYPING_EXPIRES_S = 6.0
# The coalescer `voice.state` and `voice.leave` share on a socket.
VOICE = "voice"


class RoomIO(Protocol):
    """The hub as handlers see it."""

    async def broadcast(self, room_id: uuid.UUID | str, msg: Outbound) -> int: ...

    async def direct(self, room_id: str, to: Address, msg: Outbound) -> None: ...

    def reply(self, conn: ClientConn, msg: Outbound) -> None: ...

    async def remote_state(self, room_id: str) -> tuple[str, RemoteState]: ...

    async def remote_transact(
        self, room_id: str, step: Callable[[RemoteState], Transition]
    ) -> Transition: ...

    async def reauthenticate(self, conn: ClientConn, token: str) -> None: ...


Handler = Callable[[ClientConn, Any], Awaitable[None]]


def _refuse(kind: Kind, code: str, detail: Any) -> DomainError:
    return DomainError(kind, code, detail)


class Typing:
    """Who is typing: a `true` expires by itself after TYPING_EXPIRES_S with a broadcast
    `false`. Per process: each replica expires the typing of its own sockets."""

    def __init__(self, io: RoomIO) -> None:
        self._io = io
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def set(self, room_id: str, user_id: str, typing: bool) -> None:
        key = (room_id, user_id)
        old = self._tasks.pop(key, None)
        if old is not None:
            old.cancel()
        if typing:
            self._tasks[key] = asyncio.create_task(self._expire(room_id, user_id))
        if typing != (old is not None):  # a change: a repeated `true` only re-arms the expiry
            await self._io.broadcast(room_id, ChatTypingOut(user_id=user_id, typing=typing))

    async def stop(self, room_id: str, user_id: str, *, announce: bool) -> None:
        task = self._tasks.pop((room_id, user_id), None)
        if task is not None:
            task.cancel()
            if announce:
                await self._io.broadcast(room_id, ChatTypingOut(user_id=user_id, typing=False))

    async def _expire(self, room_id: str, user_id: str) -> None:
        await asyncio.sleep(TYPING_EXPIRES_S)
        self._tasks.pop((room_id, user_id), None)
        try:
            await self._io.broadcast(room_id, ChatTypingOut(user_id=user_id, typing=False))
        except Exception:
            log.exception("typing expiry failed", extra={"room": room_id})

    def cancel_all(self) -> None:
        for task in self._tasks.values():
            task.cancel()


class ClientHandlers:
    def __init__(
        self,
        *,
        io: RoomIO,
        settings: Settings,
        presence: Presence,
        sessionmaker: async_sessionmaker[AsyncSession],
        engine: AsyncEngine,
        rate_limiter: RateLimiter,
        together: Together,
    ) -> None:
        self.io = io
        self.together = together
        self.settings = settings
        self.presence = presence
        self.sessionmaker = sessionmaker
        # Chat messages are single INSERTs: autocommit saves BEGIN/COMMIT round trips (same pool).
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.rate_limiter = rate_limiter
        self.typing = Typing(io)
        self.tabs = tabs = Tabs(io=io, settings=settings, presence=presence)
        # Clipboard and files (issue 22); the agent channel takes its reports from this one too.
        self.clipfiles = clipfiles = ClipFiles(io=io, settings=settings, presence=presence)
        self.table: dict[str, Handler] = {
            "auth": self._auth,
            "ping": self._ping,
            "chat.send": self._chat_send,
            "chat.typing": self._chat_typing,
            "remote.request": self._remote_action("request"),
            "remote.grant": self._remote_action("grant"),
            "remote.pass": self._remote_action("pass"),
            "remote.take": self._remote_action("take"),
            "remote.revoke": self._remote_action("revoke"),
            "remote.release": self._remote_action("release"),
            "browser.navigate": self._navigate,
            **{type_: self._forward_as_holder(model) for type_, model in FORWARDED_INPUT.items()},
            "rtc.offer": self._rtc_offer,
            "rtc.answer": self._rtc_answer,
            "rtc.ice": self._rtc_ice,
            "voice.state": self._voice_state,
            "voice.leave": self._voice_leave,
            "media.cmd": together.media_cmd,
            "reaction.send": together.reaction,
            "pointer.show": together.pointer,
            "queue.add": together.queue_add,
            "queue.remove": together.queue_remove,
            "queue.move": together.queue_move,
            "tabs.open": tabs.open,
            "tabs.switch": tabs.switch,
            "tabs.close": tabs.close,
            "clipboard.paste": clipfiles.paste,
            "file.upload": clipfiles.file_upload,
            "file.chunk": clipfiles.file_chunk,
            "file.cancel": clipfiles.file_cancel,
        }
        assert set(self.table) == set(w.CLIENT_MESSAGES), "every client message has a handler"
        # Messages that change the room for everyone: checked against the database (member,
        # room live) before they run, so a kick, leave or end whose broadcast this process
        # missed still stops them. The rest (ping, typing, input for the holder, signalling)
        # is checked by the socket's revocation and the holder check.
        self.state_changing = frozenset(
            {"chat.send", "browser.navigate", "voice.state", "media.cmd", "reaction.send"}
            | {"clipboard.paste", "file.upload"}
            | {t for t in self.table if t.startswith(("remote.", "queue.", "tabs."))}
        )

    async def handle(self, conn: ClientConn, text: str) -> None:
        """Parse and run one message; a refusal or a failure becomes an `error` reply."""
        type_: str | None = None
        try:
            type_, msg = m.parse(text)
            if type_ in self.state_changing:
                await self._require_active(conn)
            await self.table[type_](conn, msg)
        except DomainError as exc:
            self.io.reply(conn, ErrorOut(code=exc.code, detail=exc.detail, type=type_))
        except Exception:
            log.exception("room message failed", extra={"room": conn.room_id, "type": type_})
            detail = "Something went wrong handling that"
            self.io.reply(conn, ErrorOut(code="internal_error", detail=detail, type=type_))

    # ---------------------------------------------------------------- checks

    async def _owner_only(self, room_id: str) -> bool:
        async with self.sessionmaker() as s:
            return await queries.profile_owner_only(session=s, room_id=uuid.UUID(room_id))

    async def _require_member(self, room_id: str, user_id: str) -> None:
        async with self.sessionmaker() as s:
            p = await queries.get_participant(
                session=s, room_id=uuid.UUID(room_id), user_id=uuid.UUID(user_id)
            )
        if not queries.is_active(p):
            raise _refuse(Kind.invalid, "invalid_target", "That user is not in this room")

    async def _require_active(self, conn: ClientConn) -> None:
        """The socket's user is still a member and the room still live (one read each)."""
        room_id = uuid.UUID(conn.room_id)
        async with self.sessionmaker() as s:
            p = await queries.get_participant(
                session=s, room_id=room_id, user_id=uuid.UUID(conn.user_id)
            )
            status = await queries.status_of(session=s, room_id=room_id)
        if not queries.is_active(p):
            raise _refuse(Kind.forbidden, "not_a_member", "You are no longer in this room")
        if status in (None, RoomStatus.ending, RoomStatus.ended):
            raise _refuse(Kind.gone, "room_ended", "This room has ended")

    async def _auth(self, conn: ClientConn, msg: w.Auth) -> None:
        await self.io.reauthenticate(conn, msg.token)

    async def _require_holder(self, conn: ClientConn) -> None:
        _, state = await self.io.remote_state(conn.room_id)
        if state.holder_id != conn.user_id:
            raise _refuse(Kind.forbidden, "not_holder", "Only the holder of the remote can do that")

    async def _require_agent(self, room_id: str) -> None:
        if await self.presence.agent(room_id) is None:
            raise _refuse(
                Kind.unavailable, "agent_unavailable", "The room's browser is not connected yet"
            )

    # ---------------------------------------------------------------- handlers

    async def _ping(self, conn: ClientConn, msg: w.Empty) -> None:
        self.io.reply(conn, Pong())

    async def _chat_send(self, conn: ClientConn, msg: w.ChatSend) -> None:
        text = clean_text(msg.text)
        if not text:
            raise _refuse(Kind.invalid, "empty_message", "The message is empty")
        limit = self.settings.ROOM_CHAT_MAX_CHARS
        if len(text) > limit:
            raise _refuse(Kind.invalid, "too_long", f"Messages are limited to {limit} characters")
        retry = await self.rate_limiter.hit(
            f"chat:{conn.room_id}:{conn.user_id}",
            limit=self.settings.ROOM_CHAT_RATE_COUNT,
            window_s=self.settings.ROOM_CHAT_RATE_SECONDS,
        )
        if retry is not None:
            raise _refuse(
                Kind.rate_limited,
                "rate_limited",
                {"message": "Too many messages", "retry_after": retry},
            )
        async with self._autocommit.connect() as db:
            row, _new = await queries.add_message(
                conn=db,
                room_id=uuid.UUID(conn.room_id),
                user_id=uuid.UUID(conn.user_id),
                text=text,
                client_id=msg.client_id,
            )
        await self.typing.stop(conn.room_id, conn.user_id, announce=False)
        # A retry of a stored message (same `client_id`) is broadcast again, not stored again:
        # when the first publish failed nobody saw it, and when it did not, clients drop the
        # repeat by its `id` (docs/protocol.md). Either way the sender gets its echo.
        await self.io.broadcast(conn.room_id, chat_message(row, conn.username))

    async def _chat_typing(self, conn: ClientConn, msg: w.ChatTyping) -> None:
        # Coalesced per socket; `Typing.set` only broadcasts changes (a repeated `true` just
        # re-arms its expiry).
        interval = self.settings.ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS
        await conn.throttles.of("chat.typing", interval, dedupe=False).offer(
            msg.typing, lambda typing: self.typing.set(conn.room_id, conn.user_id, typing)
        )

    def _remote_action(self, action: Action) -> Handler:
        async def handle(conn: ClientConn, msg: Any) -> None:
            target = str(msg.user_id) if isinstance(msg, w.RemoteTarget) else None
            if action == "pass" and target is not None and target != conn.user_id:
                await self._require_member(conn.room_id, target)
            release_to_host = self.settings.ROOM_RELEASE_TO_HOST
            owner_only = await self._owner_only(conn.room_id)
            await self.io.remote_transact(
                conn.room_id,
                lambda s: apply(
                    s,
                    action,
                    actor=conn.user_id,
                    target=target,
                    release_to_host=release_to_host,
                    owner_only=owner_only,
                ),
            )

        return handle

    async def _navigate(self, conn: ClientConn, msg: w.Navigate) -> None:
        await self._require_holder(conn)
        try:
            url = await check_url_async(
                msg.url, allow_private=self.settings.ROOM_ALLOW_PRIVATE_URLS
            )
        except UrlRejected as exc:
            raise _refuse(Kind.invalid, "url_not_allowed", str(exc)) from None
        await self._require_agent(conn.room_id)
        await self.io.direct(conn.room_id, AGENT, AgentNavigate(url=url))

    def _forward_as_holder(self, forwarded: type[Outbound]) -> Handler:
        """Input fallback (and back/forward/reload): to the agent, from the holder only."""

        async def handle(conn: ClientConn, msg: Inbound) -> None:
            await self._require_holder(conn)
            await self.io.direct(conn.room_id, AGENT, forwarded.model_validate(msg.model_dump()))

        return handle

    async def _rtc_offer(self, conn: ClientConn, msg: w.RtcOffer) -> None:
        if msg.to == "agent":
            await self._require_agent(conn.room_id)
            offer = AgentOffer(from_=conn.user_id, conn=conn.id, sdp=msg.sdp)
            await self.io.direct(conn.room_id, AGENT, offer)
            return
        to = await self._voice_peer(conn, msg.to, msg.conn)
        await self.io.direct(
            conn.room_id, to, RtcOfferOut(from_=conn.user_id, conn=conn.id, sdp=msg.sdp)
        )

    async def _rtc_answer(self, conn: ClientConn, msg: w.RtcAnswer) -> None:
        if msg.to == "agent":
            raise _refuse(Kind.invalid, "invalid_target", "The agent only answers; it takes offers")
        to = await self._voice_peer(conn, msg.to, msg.conn)
        await self.io.direct(
            conn.room_id, to, RtcAnswerOut(from_=conn.user_id, conn=conn.id, sdp=msg.sdp)
        )

    async def _rtc_ice(self, conn: ClientConn, msg: w.RtcIce) -> None:
        if msg.to == "agent":
            return  # the agent answers with every candidate in its SDP and takes no trickle
        to = await self._voice_peer(conn, msg.to, msg.conn)
        ice = RtcIceOut(
            from_=conn.user_id,
            conn=conn.id,
            candidate=msg.candidate,
            sdpMid=msg.sdpMid,
            sdpMLineIndex=msg.sdpMLineIndex,
        )
        await self.io.direct(conn.room_id, to, ice)

    async def _voice_peer(self, conn: ClientConn, to: str, conn_id: str | None) -> Address:
        """Where a voice-mesh message goes: one socket of another online user, or all of them.
        Both ends must be in voice (their `voice.state` stands): otherwise any member could aim
        SDP and candidates at anyone in the room. A `conn` must be one of `to`'s sockets:
        otherwise any member could aim SDP at any socket, their own idle one included, and
        queue megabytes on it."""
        if to == conn.user_id or to not in await self.presence.online(conn.room_id):
            raise _refuse(
                Kind.invalid,
                "invalid_target",
                '`to` must be "agent" or another online user of this room',
            )
        voices = await self.presence.voices(conn.room_id)
        # The sender's own state may still wait in its coalescer (it left and rejoined within
        # one interval): that counts, as it is what this socket said last.
        waiting = conn.throttles.get(VOICE)
        if conn.user_id not in voices and not (
            waiting is not None and isinstance(waiting.latest, dict)
        ):
            raise _refuse(
                Kind.forbidden,
                "not_in_voice",
                "Join voice first: voice signalling is for people in voice",
            )
        if to not in voices:
            raise _refuse(Kind.invalid, "not_in_voice", "That user is not in voice")
        if not conn_id:
            return Address.user(to)
        if (await self.presence.conns(conn.room_id)).get(conn_id) != to:
            raise _refuse(Kind.invalid, "invalid_target", "`conn` is not a socket of `to`")
        return Address.conn(conn_id)

    async def _voice_state(self, conn: ClientConn, msg: w.VoiceState) -> None:
        await self._voice(conn, msg.model_dump())

    async def _voice_leave(self, conn: ClientConn, msg: w.Empty) -> None:
        # Voice state otherwise lasts until the user goes offline: leaving voice must say so,
        # or everyone would keep showing (and dialling) a voice peer that is gone.
        await self._voice(conn, None)

    async def _voice(self, conn: ClientConn, voice: dict[str, Any] | None) -> None:
        """`voice.state` (a dict) and `voice.leave` (None) share one coalescer per socket: at
        most one broadcast per ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS, the latest wins (a leave
        replaces a state still waiting, so it cannot re-announce the voice, and the reverse),
        a repeat of the last one is dropped: 90 `voice.leave` frames cost the room one
        `voice.left`."""

        async def publish(value: dict[str, Any] | None) -> None:
            if conn.outbox.closing:
                return
            if value is None:
                await self.presence.clear_voice(conn.room_id, conn.user_id)
                await self.io.broadcast(conn.room_id, VoiceLeftOut(user_id=conn.user_id))
            else:
                await self.presence.set_voice(conn.room_id, conn.user_id, value)
                await self.io.broadcast(conn.room_id, VoiceStateOut(user_id=conn.user_id, **value))

        interval = self.settings.ROOM_WS_STATE_UPDATE_INTERVAL_SECONDS
        await conn.throttles.of(VOICE, interval, dedupe=True).offer(voice, publish)
