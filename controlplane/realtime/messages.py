"""Every client → server room message, as a pydantic model; parse failures become `error` replies.

The envelope is `{"type": str, "data": {...}}`. `parse` returns (type, model) or raises
BadMessage with a stable code and a human detail.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Fraction = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Delta = Annotated[float, Field(ge=-100_000, le=100_000, allow_inf_nan=False)]
Modifier = Literal["ctrl", "shift", "alt", "meta"]
Sdp = Annotated[str, Field(min_length=1, max_length=60_000)]
# "agent", or the id of a user in the room
Peer = Annotated[str, Field(min_length=1, max_length=64)]


class BadMessage(ValueError):
    def __init__(self, code: str, detail: Any) -> None:
        super().__init__(str(detail))
        self.code = code
        self.detail = detail


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
    except ValueError:
        raise BadMessage("bad_json", "Message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise BadMessage("bad_message", "Message must be an object {type, data}")
    type_ = msg.get("type")
    data = msg.get("data", {})
    if not isinstance(type_, str) or not type_:
        raise BadMessage("bad_message", "Message needs a string `type`")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadMessage("bad_message", "`data` must be an object")
    return type_[:64], data


def parse(raw: str, table: dict[str, type[_Msg]] = CLIENT_MESSAGES) -> tuple[str, _Msg]:
    type_, data = parse_envelope(raw)
    model = table.get(type_)
    if model is None:
        raise BadMessage("unknown_type", f"Unknown message type {type_!r}")
    try:
        return type_, model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise BadMessage("invalid", errors) from None


# Bidirectional overrides and isolates can make text display differently from what it is.
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def clean_text(text: str) -> str:
    """Chat text as plain text: newlines kept, tabs become spaces, other control characters and
    bidi overrides dropped, surrounding whitespace trimmed. Emoji (and their ZWJ sequences)
    are untouched."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    kept = [
        ch
        for ch in text
        if ch == "\n" or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _BIDI_CONTROLS)
    ]
    return "".join(kept).strip()
