"""The Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered.

Worker processes only do cheap work at start-up (close inherited DB
connections). Models are loaded lazily in the child on the first batch
(``retrieval.inference``), never in the parent, so CUDA is never initialised
before fork.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mmsec_site.settings")

app = Celery("mmsec")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _on_worker_process_init(**_: object) -> None:  # pragma: no cover - runs in worker children
    """Connections inherited across fork must not be shared with the parent."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
