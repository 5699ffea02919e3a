"""Security headers on every HTTP response."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The API docs page (controlplane/api/routes/docs.py) serves Swagger UI from packaged assets
# and starts it from a same-origin script: nothing but 'self' (its CSS inlines icons as data:).
_CSP_DOCS = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_DOCS_PREFIX = "/api/docs"
_CSP_APP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src {connect}; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# Two years, the preload lists' minimum; no includeSubDomains: other hosts of the domain are not
# ours to pin to HTTPS.
_HSTS = b"max-age=63072000"


def websocket_origin(public_url: str) -> str:
    """The room sockets' origin: PUBLIC_URL's host and port with ws/wss for http/https."""
    parts = urlsplit(public_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}"


def app_csp(public_url: str) -> str:
    """The web app's policy: it talks to its own origin only. 'self' covers the same host's
    ws/wss in CSP 3 browsers; PUBLIC_URL's exact WebSocket origin is named for the rest (and for
    a page opened under another name than PUBLIC_URL's). No bare `ws: wss:`: an injected script
    could otherwise send what it reads to any host over a socket."""
    return _CSP_APP.format(connect=f"'self' {websocket_origin(public_url)}")


_STATIC = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), geolocation=(), microphone=(self)"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.csp_app = app_csp(public_url)
        # HSTS only where people use HTTPS: on http://localhost it would be ignored at best.
        self.static = [*_STATIC]
        if urlsplit(public_url).scheme == "https":
            self.static.append((b"strict-transport-security", _HSTS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        docs = path == _DOCS_PREFIX or path.startswith(_DOCS_PREFIX + "/")
        csp = _CSP_DOCS if docs else self.csp_app

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.extend(self.static)
                headers.append((b"content-security-policy", csp.encode()))
            await send(message)

        await self.app(scope, receive, send_wrapper)
