"""The envelope every WebSocket message travels in, `{"type": str, "data": {...}}`, and the two
kinds of message model.

`Inbound` models are what a program reads from a peer it does not fully trust: unknown fields
are ignored, limits are checked. `Outbound` models are what a program builds and sends: unknown
fields are a programming error (`extra="forbid"`), a model's `TYPE` is its wire name, so a
message and its name cannot drift apart, and `data()` is the wire `data` object.

Pure: no I/O. Errors are `WireError` (a stable `code` and a human `detail`); each program turns
them into its own error reply.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class WireError(ValueError):
    """A frame that is not a valid message: `code` is stable (`bad_json`, `bad_message`,
    `unknown_type`, `invalid`), `detail` a text or, for `invalid`, the list of field errors."""

    def __init__(self, code: str, detail: Any) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


class Inbound(BaseModel):
    """A message as its receiver reads it: lenient about fields it does not know (a newer peer
    may send more), strict about the ones it does."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Outbound(BaseModel):
    """A message as its sender builds it. Fields that are null on the wire are `None`; a model
    with `OMIT_NONE` leaves them out instead."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")
    TYPE: ClassVar[str]
    OMIT_NONE: ClassVar[bool] = False

    def data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=self.OMIT_NONE)

    def event(self) -> tuple[str, dict[str, Any]]:
        """As the bus publishes it: (type, data)."""
        return self.TYPE, self.data()


def table(*models: type[M]) -> dict[str, type[M]]:
    """A message table from models that carry their `TYPE`."""
    found = {getattr(model, "TYPE"): model for model in models}  # noqa: B009
    if len(found) != len(models):
        raise ValueError("two models claim one type")
    return found


def parse_envelope(raw: str) -> tuple[str, dict[str, Any]]:
    """`(type, data)` of one text frame; `type` is cut to 64 characters, a null `data` is `{}`."""
    try:
        msg = json.loads(raw)
    except (ValueError, RecursionError):
        # RecursionError: nesting deeper than the parser's stack (a 64 KB frame of `[` does it);
        # it is a bad frame like any other, not a crash of the socket.
        raise WireError("bad_json", "Message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise WireError("bad_message", "Message must be an object {type, data}")
    type_ = msg.get("type")
    data = msg.get("data", {})
    if not isinstance(type_, str) or not type_:
        raise WireError("bad_message", "Message needs a string `type`")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise WireError("bad_message", "`data` must be an object")
    return type_[:64], data


def validate(type_: str, data: dict[str, Any], table: dict[str, type[M]]) -> M:
    """`data` as the model `table` names for `type_`."""
    model = table.get(type_)
    if model is None:
        raise WireError("unknown_type", f"Unknown message type {type_!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise WireError("invalid", errors) from None


def read(model: type[M], data: dict[str, Any]) -> M:
    """`data` as `model`, ignoring fields the model does not know even where the model forbids
    them: how a receiver reads an `Outbound` message from a newer sender."""
    known = {f.alias or name for name, f in model.model_fields.items()} | set(model.model_fields)
    return model.model_validate({k: v for k, v in data.items() if k in known})


def frame(type_: str, data: dict[str, Any]) -> str:
    """One text frame."""
    return json.dumps({"type": type_, "data": data})
