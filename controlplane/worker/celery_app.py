"""The Celery app the worker and beat run (`watchparty worker`, `watchparty beat`)."""

from __future__ import annotations

from controlplane.services.celery_factory import make_celery
from controlplane.settings import Settings

celery_app = make_celery(Settings())
