"""Celery tasks: thin wrappers that take ids and call services.

All tasks are idempotent (job rows + unique constraints), acknowledged late,
and retried with backoff on transient errors; job state is in the database.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from retrieval.plugin_api import TransientPluginError
from retrieval.services import integrity, jobs, pipeline

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError, TransientPluginError, ConnectionError)


@shared_task(name="mmsec.retrieval.run_job", bind=True, acks_late=True, max_retries=5,
             autoretry_for=TRANSIENT, retry_backoff=5, retry_backoff_max=300, retry_jitter=True)
def run_job(self: object, job_id: int) -> None:
    try:
        pipeline.run_job(job_id)
    except SoftTimeLimitExceeded:
        pipeline.fail_job(job_id, "processing took longer than the time limit")


@shared_task(name="mmsec.retrieval.reconcile_jobs", acks_late=True)
def reconcile_jobs() -> int:
    return jobs.reconcile()


@shared_task(name="mmsec.retrieval.verify_originals", acks_late=True)
def verify_originals() -> int:
    """Beat: re-hash a bounded batch of stored originals; returns how many no longer match."""
    return len(integrity.verify_originals())
