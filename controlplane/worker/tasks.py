"""Celery tasks: thin wrappers around service functions."""

from __future__ import annotations

from controlplane.services.mail import send_email
from controlplane.settings import Settings
from controlplane.worker.celery_app import celery_app


@celery_app.task(
    name="watchparty.send_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def send_email_task(*, to: str, subject: str, body: str) -> None:
    send_email(settings=Settings(), to=to, subject=subject, body=body)
