"""One app, two listeners: the public one (web app, API, health, metrics) and the agent
channel's own on AGENT_PORT.

Rooms' networks admit the agent port alone (Docker egress rules, the rooms NetworkPolicy), so a
room, or a page it shows, reaches nothing of the API but a socket that wants a room's secret. The
split is made here, by the local port a request arrived on, rather than with a second app: both
listeners then share the one lifespan, hub and context of the process.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from controlplane.api.errors import error_body
from controlplane.api.routes.agent_profile import AGENT_PROFILE_PATH
from controlplane.api.routes.agent_ws import AGENT_WS_PATH

# What the agent listener serves: the agent's socket and its profile's load and save.
AGENT_PATHS = frozenset({AGENT_WS_PATH, AGENT_PROFILE_PATH})


class ListenerSplit:
    """Answers on the agent listener only the agent's paths (its socket, its profile), and on
    any other only the rest."""

    def __init__(self, app: ASGIApp, *, agent_port: int) -> None:
        self.app = app
        self.agent_port = agent_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            server = scope.get("server")
            on_agent_listener = server is not None and server[1] == self.agent_port
            if on_agent_listener != (scope["path"] in AGENT_PATHS):
                await _not_here(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _not_here(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting: the server answers the upgrade with 403.
        await send({"type": "websocket.close", "code": 1008, "reason": ""})
        return
    response = JSONResponse(error_body(code="not_found", detail="Not Found"), status_code=404)
    await response(scope, receive, send)
