"""The one place that picks an implementation for each pluggable part, from settings, and the
app's lifespan: build the context, start what runs in the background, close it all.

Dependencies point one way: the API and the CLI call this; it builds adapters (database, Redis,
runtimes) and the hub, and hands services the `AppContext` bag, in which the hub appears only as
the ports it implements (`RoomEvents`, `Liveness`). The hub itself, and the access check, are
held here at the entry layer (`Wired`): the socket routes and /metrics reach them from the app's
state, never through the services' context.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from controlplane.auth.access import AccessCheck
from controlplane.auth.passwords import password_helper
from controlplane.auth.session_store import RedisSessionStore, SqlSessionStore
from controlplane.context import AppContext
from controlplane.db import make_engine, make_sessionmaker
from controlplane.ports import SessionStore
from controlplane.realtime.bus import Bus, InProcessBus, RedisBus
from controlplane.realtime.hub import Hub
from controlplane.realtime.presence import MemoryPresence, Presence, RedisPresence
from controlplane.reaper.loop import run_forever
from controlplane.rooms.warm_pool import fill
from controlplane.runtime.base import RoomRuntime, UnavailableRuntime
from controlplane.services.jobs import CeleryJobs, InProcessJobs, JobQueue
from controlplane.services.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from controlplane.services.redis_client import RedisClient, redis_client
from controlplane.settings import Settings

log = logging.getLogger(__name__)


def make_runtime(settings: Settings) -> RoomRuntime:
    """The backend named by ROOM_RUNTIME. Backends not built yet give UnavailableRuntime, so the
    app still starts and rooms fail with a clear reason instead of the process crashing.

    Only the chosen backend is imported: the Kubernetes client alone costs every API process,
    worker and test server about a second of CPU at start-up. (Not to dodge a cycle: the import
    graph test counts these imports too.)"""
    name = settings.ROOM_RUNTIME
    log.info("room runtime chosen", extra={"runtime": name})
    if name == "kubernetes":
        from controlplane.runtime.kubernetes import KubernetesRuntime

        return KubernetesRuntime(settings)
    if name == "docker":
        from controlplane.runtime.docker import DockerRuntime

        return DockerRuntime(settings)
    if name == "local":
        from controlplane.runtime.local import LocalRuntime

        return LocalRuntime(settings)
    if name == "none":
        return UnavailableRuntime(name, "this deployment runs no room browsers (ROOM_RUNTIME=none)")
    return UnavailableRuntime(name)


@dataclass(frozen=True)
class Wired:
    """A process's parts: the services' context, and what only the entry layer holds: the hub
    (this process's sockets and bus; the context sees it as `events` and `liveness`) and the
    access check the socket routes and REST dependencies run. `ctx.aclose()` closes it all."""

    ctx: AppContext
    hub: Hub
    access: AccessCheck


def build_context(settings: Settings, *, runtime: RoomRuntime | None = None) -> AppContext:
    """`runtime` replaces the backend ROOM_RUNTIME names (tests hand in their own). Nothing is
    started: see `running` (the API) or call `ctx.aclose()` when done (tasks, scripts)."""
    return build(settings, runtime=runtime).ctx


def build(settings: Settings, *, runtime: RoomRuntime | None = None) -> Wired:
    """The context and the hub behind its ports (as `build_context`), for an entry point that
    serves sockets too."""
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    runtime = runtime or make_runtime(settings)
    redis: RedisClient | None = None
    if settings.REDIS_URL:
        redis = redis_client(settings.REDIS_URL, cluster=settings.REDIS_CLUSTER)
        rate_limiter: RateLimiter = RedisRateLimiter(redis)
        bus: Bus = RedisBus(redis)
        presence: Presence = RedisPresence(redis)
        session_store: SessionStore = RedisSessionStore(redis)
        jobs: JobQueue = CeleryJobs(settings)
    else:
        rate_limiter = MemoryRateLimiter()
        bus = InProcessBus()
        presence = MemoryPresence()
        session_store = SqlSessionStore(maker)
        jobs = InProcessJobs(settings)
    access = AccessCheck(
        secret_key=settings.SECRET_KEY, sessionmaker=maker, session_store=session_store
    )
    hub = Hub(
        settings=settings,
        bus=bus,
        presence=presence,
        sessionmaker=maker,
        rate_limiter=rate_limiter,
        engine=engine,
        access=access,
    )
    ctx = AppContext(
        settings=settings,
        engine=engine,
        sessionmaker=maker,
        redis=redis,
        sweeps_in_process=redis is None,
        rate_limiter=rate_limiter,
        session_store=session_store,
        jobs=jobs,
        presence=presence,
        events=hub,
        liveness=hub,
        runtime=runtime,
        password_helper=password_helper(settings),
        closers=[("hub", hub.aclose)],
    )
    return Wired(ctx=ctx, hub=hub, access=access)


@asynccontextmanager
async def running(
    settings: Settings, *, runtime: RoomRuntime | None = None
) -> AsyncIterator[Wired]:
    """An API process's parts, live: the hub serving, the reaper loop in embedded mode (no
    Celery beat there), the warm pool filling; all stopped and closed on exit."""
    wired = build(settings, runtime=runtime)
    ctx = wired.ctx
    try:
        await wired.hub.start()
        if ctx.sweeps_in_process:
            ctx.spawn(run_forever(ctx), name="reaper-loop")
        if settings.ROOM_WARM_POOL:
            ctx.spawn(fill(ctx=ctx), name="warm-pool-fill")
        yield wired
    finally:
        await ctx.aclose()
