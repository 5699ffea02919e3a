"""The Celery app's configuration: Redis is the broker (CELERY_BROKER_URL, else REDIS_URL; a
plain Redis, never a cluster); beat schedules the periodic sweeps.

No app is built at import: the API process builds a producer (`services/jobs.py`), the worker
and beat the app of `controlplane/worker/celery_app.py`."""

from __future__ import annotations

from celery import Celery

from controlplane.settings import Settings


def make_celery(settings: Settings) -> Celery:
    broker = settings.celery_broker_url
    app = Celery("watchparty", broker=broker, backend=None, include=["controlplane.worker.tasks"])
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue="watchparty",
        beat_schedule={
            "reaper-sweep": {
                "task": "watchparty.reap",
                "schedule": settings.REAPER_INTERVAL_SECONDS,
                # A sweep that waited longer than an interval is superseded by the next one.
                "options": {"expires": settings.REAPER_INTERVAL_SECONDS},
            }
        },
    )
    return app
