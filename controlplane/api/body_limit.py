"""A request body limit for every HTTP route, signed in or not (`MAX_REQUEST_BODY_BYTES`).

A pure ASGI middleware, so nothing reads a body before it: a request that declares a larger
`Content-Length` is answered 413 at once, its body never read by the app; a body without a length
(chunked) is counted as it arrives and refused the moment it passes the limit. The app underneath
sees a disconnect instead of the rest of the body, and whatever it answers to that is dropped: the
413 is the answer. No route takes more than a few KiB today; one that needs more would get a
larger limit here by path, not a larger limit for all.

What becomes of the unread rest: most clients send the whole body before they read a reply, and
a server that closes a connection with unread bytes makes the kernel reset it, losing the 413 on
the way. So a declared body at most DRAIN_BYTES over the limit keeps its connection, and the
server discards the rest as it arrives (uvicorn drops body bytes once the response is complete:
no memory is held); a larger one, or a chunked one (its end is unknown), is answered with
`Connection: close`, and nothing more is read from it.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controlplane.api.errors import error_body

# How far over the limit a declared body may go and still be drained (so its client reads the 413).
DRAIN_BYTES = 1 << 20


def _declared_length(scope: Scope) -> int | None:
    """The request's `Content-Length` (the largest, if it was sent twice), else None."""
    lengths = [v for k, v in scope["headers"] if k == b"content-length"]
    if not lengths:
        return None
    try:
        return max(int(v) for v in lengths)
    except ValueError:
        return None  # the server refuses a malformed length itself


class BodyLimit:
    """`max_bytes` for every path but those `by_path` names (the agent's profile upload)."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, by_path: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.by_path = dict(by_path or {})

    async def _refuse(self, send: Send, *, limit: int, close: bool) -> None:
        body = json.dumps(
            error_body(
                code="payload_too_large",
                detail=f"The request body is larger than {limit} bytes",
            )
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if close:  # what is left of the body is never read: end the connection with it
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.by_path.get(scope["path"], self.max_bytes)
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(send, limit=limit, close=declared > limit + DRAIN_BYTES)
            return
        received = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await self._refuse(send, limit=limit, close=True)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; the app's answer to a cut-off body is not sent
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
