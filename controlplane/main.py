"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from controlplane.api.body_limit import BodyLimit
from controlplane.api.errors import install_error_handlers
from controlplane.api.listeners import ListenerSplit
from controlplane.api.main import api_router
from controlplane.api.routes import agent_profile, agent_ws, health
from controlplane.api.routes.agent_profile import AGENT_PROFILE_PATH
from controlplane.api.routes.docs import install_docs
from controlplane.draining import drain_on_stop
from controlplane.heap import CollectorPauses, freeze_startup_heap
from controlplane.observability import Metrics, RequestContextMiddleware, configure_logging
from controlplane.realtime.drain import Drain
from controlplane.runtime.base import RoomRuntime
from controlplane.security_headers import SecurityHeadersMiddleware
from controlplane.services.secret_file import with_secrets
from controlplane.settings import Settings
from controlplane.web import mount_web_app
from controlplane.wiring import running
from controlplane.ws_protocol import ResettingWebSocketProtocol

log = logging.getLogger(__name__)


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None, *, runtime: RoomRuntime | None = None) -> FastAPI:
    """`runtime` overrides the room runtime backend chosen by ROOM_RUNTIME (tests use this)."""
    settings = with_secrets(settings or Settings())
    settings.check_production()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(settings, runtime=runtime) as wired:
            # The services' context, and beside it what only the entry layer holds (the hub
            # and the access check: api/deps.py).
            app.state.ctx = wired.ctx
            app.state.hub = wired.hub
            app.state.access = wired.access
            # SIGTERM moves this process's sockets to the others before it stops.
            app.state.drain = drain = Drain(
                wired.hub,
                spread_s=settings.SHUTDOWN_DRAIN_SECONDS,
                wait_s=settings.SHUTDOWN_TIMEOUT_SECONDS,
            )
            bound_s = settings.SHUTDOWN_DRAIN_SECONDS + settings.SHUTDOWN_TIMEOUT_SECONDS + 1
            log.info(
                "control plane started",
                extra={
                    "mode": settings.mode,
                    "environment": settings.ENVIRONMENT,
                    "agent_port": settings.AGENT_PORT,
                    "agent_control_url": settings.AGENT_CONTROL_URL,
                },
            )
            with drain_on_stop(drain.run, bound_s=bound_s):
                yield

    app = FastAPI(
        title="Watch Party",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # install_docs: the Swagger UI from packaged assets
        redoc_url=None,
        openapi_url="/api/openapi.json",
        generate_unique_id_function=_operation_id,
    )
    app.state.metrics = Metrics()
    app.state.gc_pauses = CollectorPauses()  # fed only once `serving` installs it
    install_error_handlers(app)
    # Innermost: its 413 still gets CORS, security headers, a request id and a log line.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.MAX_REQUEST_BODY_BYTES,
        by_path={AGENT_PROFILE_PATH: settings.PROFILE_MAX_BYTES},
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )
    app.add_middleware(SecurityHeadersMiddleware, public_url=settings.PUBLIC_URL)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.add_middleware(ListenerSplit, agent_port=settings.AGENT_PORT)  # outermost
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(agent_ws.router)
    app.include_router(agent_profile.router)
    install_docs(app)
    mount_web_app(app, settings.web_dir)  # answers what no route above matched
    return app


def app_factory() -> FastAPI:
    """The app `watchparty serve` runs on its two listeners (the public port and AGENT_PORT)."""
    settings = Settings()
    configure_logging(level=settings.LOG_LEVEL, as_json=settings.LOG_JSON)
    return serving(create_app(settings))


def serving(app: FastAPI) -> FastAPI:
    """What a served process does once, after building its app: its startup heap stays out of
    every later garbage collection, and each collection's pause is timed on /metrics."""
    freeze_startup_heap()
    app.state.gc_pauses.install()
    return app


# uvicorn's own WebSocket frame limit is this many times the app's (ROOM_WS_MAX_FRAME_BYTES), so
# a frame over the app's limit reaches the app, which answers it (`too_large` and 1009 on a room
# socket; `frame_too_large` on the agent channel, which stays open) rather than the transport
# closing the connection with a bare 1009 (a room agent would reconnect into the same page and
# be cut off again). Past this, the transport closes it.
WS_TRANSPORT_FACTOR = 16


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the app (CLI and test servers alike)."""
    return {
        "log_config": None,
        # uvicorn's own X-Forwarded-For handling would rewrite the client (from 127.0.0.1 by
        # default) before the app sees the real peer: the app alone reads the header, from
        # TRUSTED_PROXY_CIDRS only (api/deps.py client_ip).
        "proxy_headers": False,
        "ws_max_size": settings.ROOM_WS_MAX_FRAME_BYTES * WS_TRANSPORT_FACTOR,
        # Room messages are small JSON: compressing each one for each socket cost more CPU
        # (and latency) than any bandwidth it saved.
        "ws_per_message_deflate": False,
        # A peer that stopped reading must not keep its connection (and buffers) once the hub
        # gave its socket up.
        "ws": ResettingWebSocketProtocol,
        # uvicorn waits for open requests and sockets without limit otherwise: one socket whose
        # handler waits on a cut-off Redis (5 s a command, frame after frame) kept it up.
        "timeout_graceful_shutdown": settings.SHUTDOWN_TIMEOUT_SECONDS,
    }
