"""The one error type the domain and the services raise.

A `DomainError` says what went wrong in the product's terms: a stable `code` (clients branch on
it), a human `detail`, and a `kind` that each edge maps for itself: the REST API to an HTTP
status (`controlplane/api/errors.py`), the room socket to an `error` reply or a close code
(`controlplane/realtime/connections.py`). Nothing below the API knows about HTTP.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    invalid = "invalid"  # the request is malformed or breaks a rule of the product
    unauthenticated = "unauthenticated"
    forbidden = "forbidden"  # who you are does not allow it
    not_found = "not_found"
    conflict = "conflict"  # the state of things does not allow it (room full, ...)
    gone = "gone"  # the room has ended
    rate_limited = "rate_limited"
    unavailable = "unavailable"  # capacity, or a part of the deployment is not there


class DomainError(Exception):
    def __init__(
        self, kind: Kind, code: str, detail: Any, *, retry_after: int | None = None
    ) -> None:
        super().__init__(str(detail))
        self.kind = kind
        self.code = code
        self.detail = detail
        # With `rate_limited`: seconds until the caller may try again.
        self.retry_after = retry_after
