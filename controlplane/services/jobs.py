"""Background jobs: Celery when Redis is configured, a thread in the API process otherwise."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from controlplane.services.celery_factory import make_celery
from controlplane.services.mail import send_email
from controlplane.settings import Settings

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    async def send_email(self, *, to: str, subject: str, body: str) -> None: ...


class InProcessJobs:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tasks: set[asyncio.Task[None]] = set()

    async def send_email(self, *, to: str, subject: str, body: str) -> None:
        async def run() -> None:
            try:
                await asyncio.to_thread(
                    send_email, settings=self._settings, to=to, subject=subject, body=body
                )
            except Exception:
                log.exception("sending e-mail failed", extra={"to": to})

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class CeleryJobs:
    def __init__(self, settings: Settings) -> None:
        # A producer bound to this deployment's broker; tasks are sent by name.
        self._celery = make_celery(settings)

    async def send_email(self, *, to: str, subject: str, body: str) -> None:
        # Publishing talks to the broker synchronously; keep it off the event loop.
        await asyncio.to_thread(
            self._celery.send_task,
            "watchparty.send_email",
            kwargs={"to": to, "subject": subject, "body": body},
        )
