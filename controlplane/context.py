"""`AppContext`: the application's dependencies in one plain bag, handed to every service.

It holds interfaces (and the hub, which is also the room's `RoomEvents`); which implementation
stands behind each is decided in one place, `controlplane/wiring.py`. Starting the hub, the
reaper loop and the pool is the app's lifespan's job (`wiring.running`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi_users.password import PasswordHelper
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from controlplane.auth import access_tokens
from controlplane.auth.access import AccessCheck
from controlplane.auth.session_store import SessionStore
from controlplane.realtime.bus import Bus
from controlplane.realtime.hub import Hub
from controlplane.realtime.presence import Presence
from controlplane.rooms.events import RoomEvents
from controlplane.runtime.base import RoomRuntime
from controlplane.services.jobs import JobQueue
from controlplane.services.ratelimit import RateLimiter
from controlplane.settings import Settings
from controlplane.shutdown import cancel_all, within

JWT_AUDIENCE = access_tokens.AUDIENCE
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
    bus: Bus
    presence: Presence
    # The sockets of this process; services reach rooms only through `events` (the same hub).
    hub: Hub
    runtime: RoomRuntime
    # Whether an access token (and its session and user) still stands.
    access: AccessCheck
    # Embedded mode has no Celery: the API process runs the periodic sweeps itself.
    sweeps_in_process: bool = False
    password_helper: PasswordHelper = field(default_factory=PasswordHelper)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # One warm-pool fill at a time in this process (start-up, sweeps and claims all ask for one).
    pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def events(self) -> RoomEvents:
        return self.hub

    def spawn(self, coro: Coroutine[Any, Any, object], *, name: str) -> None:
        """Run `coro` in the background of this process, logged if it fails, cancelled on
        close. (A bare create_task may be garbage-collected while it runs.)"""
        task = asyncio.create_task(_logged(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Stop the background tasks, then close what the bag holds: each step bounded by
        SHUTDOWN_TIMEOUT_SECONDS (controlplane/shutdown.py), so a dependency that is down or
        cut off cannot keep the process from stopping."""
        timeout_s = self.settings.SHUTDOWN_TIMEOUT_SECONDS
        await cancel_all(list(self._tasks), timeout_s, name="background tasks")
        await within(timeout_s, self.hub.aclose(), name="hub")
        await within(timeout_s, self.runtime.aclose(), name="room runtime")
        if self.redis is not None:
            await within(timeout_s, self.redis.aclose(), name="redis")
        await within(timeout_s, self.engine.dispose(), name="database")


async def _logged(coro: Coroutine[Any, Any, object], name: str) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task failed", extra={"task": name})
