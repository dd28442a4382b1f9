"""Processing jobs: database rows are the truth, Celery messages only wake workers up.

``schedule`` creates (or resets) the row and enqueues after commit; tasks call
``claim`` → work → ``complete``/``fail``. The reconciler re-enqueues rows whose
message was lost (Redis flushed, worker killed) so every job ends exactly once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from retrieval.models import JobState, MediaItem, MediaStatus, ProcessingJob

log = logging.getLogger(__name__)


def _enqueue(job: ProcessingJob) -> None:
    from retrieval import tasks

    tasks.run_job.apply_async(args=[job.pk], queue=job.queue)


def schedule(media: MediaItem, step: str, queue: str = "default", *, reset: bool = False) -> ProcessingJob:
    """Create the job row for ``step`` (idempotent) and enqueue it once the transaction commits."""
    job, created = ProcessingJob.objects.get_or_create(media=media, step=step, defaults={"queue": queue})
    if not created and not reset and job.state in (JobState.DONE, JobState.QUEUED, JobState.RUNNING):
        return job
    if not created:
        job.state = JobState.QUEUED
        job.queue = queue
        job.error = ""
        job.progress = 0.0
        job.attempts = 0
        job.finished_at = None
        job.save()
    if media.status != MediaStatus.PROCESSING and step != "metadata":
        MediaItem.objects.filter(pk=media.pk).update(status=MediaStatus.PROCESSING)
    transaction.on_commit(lambda: _enqueue(job))
    return job


def claim(job_id: int) -> ProcessingJob | None:
    """Mark a job running; returns None if it is already finished (duplicate delivery)."""
    with transaction.atomic():
        job = ProcessingJob.objects.select_for_update().select_related("media").filter(pk=job_id).first()
        if job is None or job.state in (JobState.DONE, JobState.FAILED, JobState.SKIPPED):
            return None
        job.state = JobState.RUNNING
        job.attempts += 1
        job.started_at = timezone.now()
        job.save(update_fields=["state", "attempts", "started_at", "updated_at"])
        return job


def set_progress(job_id: int, progress: float) -> None:
    ProcessingJob.objects.filter(pk=job_id).update(progress=max(0.0, min(1.0, progress)), updated_at=timezone.now())


def complete(job: ProcessingJob, state: str = JobState.DONE, warning: str = "") -> None:
    """Done; ``warning`` says what of the media could not be analysed (empty: all of it was)."""
    ProcessingJob.objects.filter(pk=job.pk).update(
        state=state, progress=1.0, error="", warning=warning[:4000], finished_at=timezone.now(),
        updated_at=timezone.now()
    )
    refresh_media_status(job.media_id)


def fail(job: ProcessingJob, error: str) -> None:
    ProcessingJob.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, error=error[:4000], warning="", finished_at=timezone.now(), updated_at=timezone.now()
    )
    refresh_media_status(job.media_id)


def release(job: ProcessingJob, error: str) -> None:
    """Put a job back to queued after a transient error (the task retries it)."""
    ProcessingJob.objects.filter(pk=job.pk).update(state=JobState.QUEUED, error=error[:4000], updated_at=timezone.now())


def refresh_media_status(media_id: int) -> None:
    """Media is processing while any job is open, failed if its metadata step failed, else ready."""
    counts = ProcessingJob.objects.filter(media_id=media_id).aggregate(
        open=Count("id", filter=Q(state__in=[JobState.QUEUED, JobState.RUNNING])),
        meta_failed=Count("id", filter=Q(step="metadata", state=JobState.FAILED)),
    )
    if counts["meta_failed"]:
        status = MediaStatus.FAILED
    elif counts["open"]:
        status = MediaStatus.PROCESSING
    else:
        status = MediaStatus.READY
    MediaItem.objects.filter(pk=media_id).exclude(status=status).update(status=status, updated_at=timezone.now())


def reconcile(now: Any = None) -> int:
    """Re-enqueue open jobs with no progress for ``MMSEC_JOB_STALE_SECONDS``; fail those out of attempts.

    Returns how many jobs were re-enqueued. Safe to run concurrently with workers:
    a duplicate message is dropped by ``claim``.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.MMSEC_JOB_STALE_SECONDS)
    stale = ProcessingJob.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING], updated_at__lt=cutoff)
    requeued = 0
    for job in stale.select_related("media")[:1000]:
        if job.attempts >= settings.MMSEC_JOB_MAX_ATTEMPTS:
            fail(job, f"gave up after {job.attempts} attempts (worker lost or timed out)")
            continue
        ProcessingJob.objects.filter(pk=job.pk).update(state=JobState.QUEUED, updated_at=now)
        _enqueue(job)
        requeued += 1
    if requeued:
        log.warning("reconciler re-enqueued %d stale job(s)", requeued)
    return requeued
