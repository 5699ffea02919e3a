"""`AppContext`: the application's dependencies in one plain bag, handed to every service.

It holds ports (`controlplane/ports.py`) and adapters' interfaces, never the hub: which object
stands behind each is decided in one place, `controlplane/wiring.py`, which also builds and holds
the hub (this process's sockets) for the entry layer. Starting the hub, the reaper loop and the
pool is the app's lifespan's job (`wiring.running`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi_users.password import PasswordHelper
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from controlplane.ports import Liveness, PresenceView, RoomEvents, SessionStore
from controlplane.runtime.base import RoomRuntime
from controlplane.services.jobs import JobQueue
from controlplane.services.ratelimit import RateLimiter
from controlplane.services.redis_client import RedisClient
from controlplane.settings import Settings
from controlplane.shutdown import cancel_all, within

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: RedisClient | None
    rate_limiter: RateLimiter
    session_store: SessionStore
    jobs: JobQueue
    presence: PresenceView
    # What services tell a room (the hub, seen through its port).
    events: RoomEvents
    # The reaper's door to the sockets of crashed API processes (the hub too).
    liveness: Liveness
    runtime: RoomRuntime
    # Embedded mode has no Celery: the API process runs the periodic sweeps itself.
    sweeps_in_process: bool = False
    password_helper: PasswordHelper = field(default_factory=PasswordHelper)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # One warm-pool fill at a time in this process (start-up, sweeps and claims all ask for one).
    pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # What the wiring built behind the ports (the hub), closed in this order after the
    # background tasks and before the runtime and the connections they use.
    closers: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)

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
        for name, close in self.closers:
            await within(timeout_s, close(), name=name)
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
