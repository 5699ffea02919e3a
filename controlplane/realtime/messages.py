"""Every message the control plane receives, as a pydantic model: from room sockets
(`CLIENT_MESSAGES`) and from room agents (`AGENT_MESSAGES`). Pure: no I/O.

The envelope is `{"type": str, "data": {...}}`. `parse` returns (type, model) or raises a
DomainError (kind `invalid`) with a stable code and a human detail; the socket layer turns it
into an `error` reply.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from controlplane.errors import DomainError, Kind
from controlplane.models.room import RoomStage
from controlplane.rooms.together import RATE_MAX, RATE_MIN, MediaAction

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Delta = Annotated[float, Field(ge=-100_000, le=100_000, allow_inf_nan=False)]
Modifier = Literal["ctrl", "shift", "alt", "meta"]
Sdp = Annotated[str, Field(min_length=1, max_length=60_000)]
# "agent", or the id of a user in the room
Peer = Annotated[str, Field(min_length=1, max_length=64)]


def bad_message(code: str, detail: Any) -> DomainError:
    return DomainError(Kind.invalid, code, detail)


class _Msg(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Empty(_Msg):
    pass


class Auth(_Msg):
    token: Annotated[str, Field(min_length=1, max_length=4096)]


class ChatSend(_Msg):
    text: Annotated[str, Field(max_length=20_000)]
    client_id: Annotated[str | None, Field(max_length=64)] = None


class ChatTyping(_Msg):
    typing: bool


class RemoteTarget(_Msg):
    user_id: uuid.UUID


class Navigate(_Msg):
    url: Annotated[str, Field(min_length=1, max_length=2048)]


class MouseMove(_Msg):
    x: Fraction
    y: Fraction


class Click(_Msg):
    x: Fraction
    y: Fraction
    button: Literal["left", "middle", "right"] = "left"


class Scroll(_Msg):
    x: Fraction
    y: Fraction
    dx: Delta
    dy: Delta


class Keypress(_Msg):
    key: Annotated[str, Field(min_length=1, max_length=32)]
    code: Annotated[str, Field(max_length=32)] = ""
    modifiers: Annotated[list[Modifier], Field(max_length=4)] = []


class RtcOffer(_Msg):
    to: Peer
    sdp: Sdp
    conn: Annotated[str | None, Field(max_length=64)] = None


class RtcAnswer(RtcOffer):
    pass


class RtcIce(_Msg):
    to: Peer
    candidate: Annotated[str | None, Field(max_length=2048)] = None
    sdpMid: Annotated[str | None, Field(max_length=64)] = None
    sdpMLineIndex: Annotated[int | None, Field(ge=0, le=64)] = None
    conn: Annotated[str | None, Field(max_length=64)] = None


class VoiceState(_Msg):
    muted: bool = False
    deafened: bool = False
    speaking: bool = False


class MediaCmd(_Msg):
    """A media command (docs/protocol.md): `seek` to absolute seconds, `seek_by` relative
    seconds, `rate` a playback rate; `play` and `pause` take no value."""

    action: MediaAction
    value: Annotated[float | None, Field(ge=-10_000_000, le=10_000_000, allow_inf_nan=False)] = None

    @model_validator(mode="after")
    def _value_fits(self) -> MediaCmd:
        if self.action in ("play", "pause"):
            return self
        if self.value is None:
            raise ValueError(f"`{self.action}` needs a `value`")
        if self.action == "seek" and self.value < 0:
            raise ValueError("`seek` takes seconds from the start (0 or more)")
        if self.action == "rate" and not RATE_MIN <= self.value <= RATE_MAX:
            raise ValueError(f"`rate` is between {RATE_MIN} and {RATE_MAX}")
        return self


class ReactionSend(_Msg):
    # Checked against the five reactions by the handler (`bad_request` otherwise).
    emoji: Annotated[str, Field(max_length=16)]


class PointerShow(_Msg):
    x: Fraction
    y: Fraction


class QueueRemove(_Msg):
    id: uuid.UUID


class QueueMove(_Msg):
    id: uuid.UUID
    index: Annotated[int, Field(ge=0, le=10_000)]


CLIENT_MESSAGES: dict[str, type[_Msg]] = {
    "auth": Auth,  # the first frame; again later, to extend the socket with a fresh token
    "ping": Empty,
    "chat.send": ChatSend,
    "chat.typing": ChatTyping,
    "remote.request": Empty,
    "remote.grant": RemoteTarget,
    "remote.pass": RemoteTarget,
    "remote.take": Empty,
    "remote.revoke": Empty,
    "remote.release": Empty,
    "browser.navigate": Navigate,
    "browser.back": Empty,
    "browser.forward": Empty,
    "browser.reload": Empty,
    "browser.mouse_move": MouseMove,
    "browser.click": Click,
    "browser.scroll": Scroll,
    "browser.keypress": Keypress,
    "rtc.offer": RtcOffer,
    "rtc.answer": RtcAnswer,
    "rtc.ice": RtcIce,
    "voice.state": VoiceState,
    "voice.leave": Empty,
    "media.cmd": MediaCmd,
    "reaction.send": ReactionSend,
    "pointer.show": PointerShow,
    "queue.add": Navigate,
    "queue.remove": QueueRemove,
    "queue.move": QueueMove,
}


def parse_envelope(raw: str) -> tuple[str, dict[str, Any]]:
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: nesting deeper than the parser's stack (a 64 KB frame of `[` does it);
        # it is a bad frame like any other, not a crash of the socket.
        raise bad_message("bad_json", "Message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise bad_message("bad_message", "Message must be an object {type, data}")
    type_ = msg.get("type")
    data = msg.get("data", {})
    if not isinstance(type_, str) or not type_:
        raise bad_message("bad_message", "Message needs a string `type`")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise bad_message("bad_message", "`data` must be an object")
    return type_[:64], data


def parse(raw: str, table: dict[str, type[_Msg]] = CLIENT_MESSAGES) -> tuple[str, _Msg]:
    type_, data = parse_envelope(raw)
    return type_, validate(type_, data, table)


def validate(type_: str, data: dict[str, Any], table: dict[str, type[_Msg]]) -> _Msg:
    """`data` as the model `table` names for `type_`."""
    model = table.get(type_)
    if model is None:
        raise bad_message("unknown_type", f"Unknown message type {type_!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise bad_message("invalid", errors) from None


# ---------------------------------------------------------------- room agent -> control plane
# The agent is our own code but runs beside an untrusted browser: its fields are coerced and
# cut to size rather than trusted, as room messages are.


def _text(limit: int) -> BeforeValidator:
    return BeforeValidator(lambda v: str(v if v is not None else "")[:limit])


def _flag(v: Any) -> bool:
    return bool(v)


class Heartbeat(_Msg):
    """Counters for the logs and tests; the hub records that the agent is alive and keeps the
    ladder's figures for /metrics (read leniently by `agent_media.media_figures`)."""

    rungs: Any = None
    rung_switches: Any = None
    viewer_quality: Any = None


class AgentStage(_Msg):
    stage: RoomStage


class AgentReady(_Msg):
    width: Any = None
    height: Any = None
    fps: Any = None
    codec: Any = None

    def video(self) -> dict[str, Any]:
        """The stream's parameters the agent reported (only those it sent)."""
        return self.model_dump(exclude_unset=True)


class AgentBrowserStatus(_Msg):
    url: Annotated[str, _text(2048)] = ""
    title: Annotated[str, _text(300)] = ""
    can_go_back: Annotated[bool, BeforeValidator(_flag)] = False
    can_go_forward: Annotated[bool, BeforeValidator(_flag)] = False
    loading: Annotated[bool, BeforeValidator(_flag)] = False


def _seconds(v: Any) -> float:
    """A finite, non-negative number of seconds (anything else: 0)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    return f if math.isfinite(f) and f >= 0 else 0.0


def _duration(v: Any) -> float | None:
    """Seconds, or None for a live stream or one whose length is unknown (NaN, infinite)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f >= 0 else None


def _playback_rate(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 1.0
    return f if math.isfinite(f) else 1.0


class AgentMediaState(_Msg):
    """The page's main media element (docs/protocol.md, `media.state`); `present: false` when
    the page has none, and the other fields are then left out when relayed."""

    present: Annotated[bool, BeforeValidator(_flag)] = False
    paused: Annotated[bool, BeforeValidator(_flag)] = True
    time: Annotated[float, BeforeValidator(_seconds)] = 0.0
    duration: Annotated[float | None, BeforeValidator(_duration)] = None
    rate: Annotated[float, BeforeValidator(_playback_rate)] = 1.0
    muted: Annotated[bool, BeforeValidator(_flag)] = False
    ended: Annotated[bool, BeforeValidator(_flag)] = False
    title: Annotated[str, _text(300)] = ""


class AgentMediaEnded(_Msg):
    """The main media reached its end: the queue moves on."""

    url: Annotated[str, _text(2048)] = ""


class AgentAnswer(_Msg):
    """Routed by `conn`, falling back to every socket of `to`."""

    to: Annotated[str, _text(64)] = ""
    conn: Annotated[str, _text(64)] = ""
    sdp: Annotated[str, _text(60_000)] = ""


class AgentReport(_Msg):
    """An error the agent reports; with `conn`, it is relayed to that viewer."""

    code: Annotated[str, _text(64)] = ""
    message: Annotated[str, _text(500)] = ""
    conn: Annotated[str, _text(64)] = ""


AGENT_MESSAGES: dict[str, type[_Msg]] = {
    "heartbeat": Heartbeat,
    "stage": AgentStage,
    "ready": AgentReady,
    "browser.status": AgentBrowserStatus,
    "media.state": AgentMediaState,
    "media.ended": AgentMediaEnded,
    "rtc.answer": AgentAnswer,
    "error": AgentReport,
}
