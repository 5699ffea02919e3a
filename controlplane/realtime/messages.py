"""Frames from room sockets and room agents read into the wire package's models
(`watchparty_wire`, the one definition of every message), with its errors turned into the
control plane's: a `DomainError` of kind `invalid` with the wire's stable code and detail, which
the socket layer turns into an `error` reply. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from watchparty_wire import envelope
from watchparty_wire.room import CLIENT_MESSAGES

from controlplane.errors import DomainError, Kind

M = TypeVar("M", bound=BaseModel)


def bad_message(code: str, detail: Any) -> DomainError:
    return DomainError(Kind.invalid, code, detail)


def parse_envelope(raw: str) -> tuple[str, dict[str, Any]]:
    try:
        return envelope.parse_envelope(raw)
    except envelope.WireError as exc:
        raise bad_message(exc.code, exc.detail) from None


def validate(type_: str, data: dict[str, Any], table: dict[str, type[M]]) -> M:
    """`data` as the model `table` names for `type_`."""
    try:
        return envelope.validate(type_, data, table)
    except envelope.WireError as exc:
        raise bad_message(exc.code, exc.detail) from None


def parse(raw: str, table: dict[str, type[M]] | None = None) -> tuple[str, BaseModel]:
    """A room socket's frame (or, with `table`, any frame) as `(type, model)`."""
    type_, data = parse_envelope(raw)
    if table is None:
        return type_, validate(type_, data, CLIENT_MESSAGES)
    return type_, validate(type_, data, table)
