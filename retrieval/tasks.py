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


@shared_task(name="mmsec.retrieval.notify_alert", acks_late=True, max_retries=5,
             autoretry_for=(OSError, *TRANSIENT), retry_backoff=10, retry_backoff_max=600, retry_jitter=True)
def notify_alert(alert_id: int) -> dict[str, object]:
    from retrieval.services import notifications

    return notifications.notify(alert_id)


@shared_task(name="mmsec.retrieval.rebuild_space_index", acks_late=True, time_limit=6 * 3600,
             soft_time_limit=6 * 3600 - 60)
def rebuild_space_index(space_id: int) -> dict[str, object]:
    from retrieval.services import embeddings

    result = embeddings.rebuild_space_index(space_id)
    log.info("rebuilt HNSW index of space %s: %s", space_id, result)
    return result


@shared_task(name="mmsec.retrieval.cluster_faces", acks_late=True)
def cluster_faces(run_id: int) -> None:
    """One clustering pass over a case's faces (progress in ``FaceClusterRun``)."""
    from retrieval.services import faces

    faces.run_clustering(run_id)


@shared_task(name="mmsec.retrieval.verify_originals", acks_late=True)
def verify_originals() -> int:
    """Beat: re-hash a bounded batch of stored originals; alerts for those that no longer match."""
    from retrieval.services import watchlists

    mismatches = integrity.verify_originals()
    watchlists.raise_integrity_alerts(mismatches)
    return len(mismatches)


# --- reference recordings (audio fingerprint) ------------------------------------------------------


@shared_task(name="mmsec.retrieval.ingest_references", acks_late=True, max_retries=5, autoretry_for=TRANSIENT,
             retry_backoff=5, retry_backoff_max=300, retry_jitter=True)
def ingest_references(recording_ids: list[int]) -> dict[str, int]:
    from retrieval.services import references

    return references.ingest_recordings(recording_ids)


@shared_task(name="mmsec.retrieval.compact_fingerprints", acks_late=True, max_retries=5, autoretry_for=TRANSIENT,
             retry_backoff=5, retry_backoff_max=300, retry_jitter=True)
def compact_fingerprints(generations: list[int]) -> int | None:
    from retrieval.services import fingerprint_store

    gen = fingerprint_store.compact(generations)
    return gen.pk if gen is not None else None


@shared_task(name="mmsec.retrieval.maintain_references", acks_late=True)
def maintain_references() -> dict[str, int]:
    from retrieval.services import references

    return references.maintain()
