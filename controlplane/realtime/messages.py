"""Every message the control plane receives, as a pydantic model: from room sockets
(`CLIENT_MESSAGES`) and from room agents (`AGENT_MESSAGES`). Pure: no I/O.

The envelope is `{"type": str, "data": {...}}`. `parse` returns (type, model) or raises a
DomainError (kind `invalid`) with a stable code and a human detail; the socket layer turns it
into an `error` reply.
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from controlplane.errors import DomainError, Kind
from controlplane.models.room import RoomStage

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
    "rtc.answer": AgentAnswer,
    "error": AgentReport,
}
