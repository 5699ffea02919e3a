"""The one place that picks an implementation for each pluggable part, from settings."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi_users.authentication import JWTStrategy
from fastapi_users.password import PasswordHelper
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from controlplane.auth.session_store import RedisSessionStore, SessionStore, SqlSessionStore
from controlplane.db import make_engine, make_sessionmaker
from controlplane.models import User
from controlplane.realtime.bus import Bus, InProcessBus, RedisBus
from controlplane.realtime.hub import Hub
from controlplane.realtime.presence import MemoryPresence, Presence, RedisPresence
from controlplane.runtime.base import RoomRuntime, make_runtime
from controlplane.services.jobs import CeleryJobs, InProcessJobs, JobQueue
from controlplane.services.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from controlplane.settings import Settings

JWT_AUDIENCE = ["watchparty:auth"]
log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None
    rate_limiter: RateLimiter
    session_store: SessionStore
    jobs: JobQueue
    jwt: JWTStrategy[User, uuid.UUID]
    bus: Bus
    presence: Presence
    hub: Hub
    runtime: RoomRuntime
    # Embedded mode has no Celery: the API process runs the periodic sweeps itself.
    sweeps_in_process: bool = False
    password_helper: PasswordHelper = field(default_factory=PasswordHelper)
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # One warm-pool fill at a time in this process (start-up, sweeps and claims all ask for one).
    pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start(self) -> None:
        await self.hub.start()
        if self.sweeps_in_process:
            from controlplane.reaper.loop import run_forever

            self._background.append(asyncio.create_task(run_forever(self)))
        if self.settings.ROOM_WARM_POOL:
            from controlplane.rooms.warm_pool import fill

            self.spawn(fill(ctx=self), name="warm-pool-fill")

    def spawn(self, coro: Coroutine[Any, Any, object], *, name: str) -> None:
        """Run `coro` in the background of this process, logged if it fails, cancelled on
        close. (A bare create_task may be garbage-collected while it runs.)"""
        task = asyncio.create_task(_logged(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in [*self._background, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._background, *self._tasks, return_exceptions=True)
        await self.hub.aclose()
        await self.runtime.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


async def _logged(coro: Coroutine[Any, Any, object], name: str) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task failed", extra={"task": name})


def build_context(settings: Settings, *, runtime: RoomRuntime | None = None) -> AppContext:
    """`runtime` replaces the backend ROOM_RUNTIME names (tests hand in their own)."""
    engine = make_engine(settings.database_url)
    maker = make_sessionmaker(engine)
    jwt: JWTStrategy[User, uuid.UUID] = JWTStrategy(
        secret=settings.SECRET_KEY,
        lifetime_seconds=settings.ACCESS_TOKEN_MINUTES * 60,
        token_audience=JWT_AUDIENCE,
    )
    runtime = runtime or make_runtime(settings)
    redis: Redis | None = None
    if settings.REDIS_URL:
        redis = Redis.from_url(settings.REDIS_URL)
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
    return AppContext(
        settings=settings,
        engine=engine,
        sessionmaker=maker,
        redis=redis,
        sweeps_in_process=redis is None,
        rate_limiter=rate_limiter,
        session_store=session_store,
        jobs=jobs,
        jwt=jwt,
        bus=bus,
        presence=presence,
        hub=Hub(
            settings=settings,
            bus=bus,
            presence=presence,
            sessionmaker=maker,
            rate_limiter=rate_limiter,
            engine=engine,
        ),
        runtime=runtime,
    )
