"""Celery tasks: thin wrappers around service functions."""

from __future__ import annotations

import asyncio
import dataclasses

from controlplane.reaper.policy import OutageClock
from controlplane.reaper.sweep import sweep
from controlplane.services.mail import send_email
from controlplane.services.secret_file import with_secrets
from controlplane.settings import Settings
from controlplane.wiring import build_context
from controlplane.worker.celery_app import celery_app


@celery_app.task(
    name="watchparty.send_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_email_task(*, to: str, subject: str, body: str) -> None:
    send_email(settings=Settings(), to=to, subject=subject, body=body)


# Each sweep builds its own context, but the worker process stays: its memory of the outages it
# saw lasts from one sweep to the next (a restarted worker starts without one).
_OUTAGES = OutageClock()


@celery_app.task(name="watchparty.reap")
def reap_task() -> dict[str, list[str]]:
    """One reaper sweep in a worker: its own context, its own event loop."""
    return asyncio.run(_reap(with_secrets(Settings())))


async def _reap(settings: Settings) -> dict[str, list[str]]:
    ctx = build_context(settings)
    try:
        report = await sweep(ctx=ctx, outages=_OUTAGES)
    finally:
        await ctx.aclose()
    return dataclasses.asdict(report)
