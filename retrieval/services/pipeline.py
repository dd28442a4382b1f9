"""Runs one processing job by its step name and records the outcome.

Steps: ``metadata`` (sniff, probe, preview, then fan out to plugins) and
``plugin:<name>`` (run a model plugin; see ``services.plugins``).
"""

from __future__ import annotations

import logging

from retrieval.models import JobState, MediaStatus, ProcessingJob
from retrieval.plugin_api import TransientPluginError
from retrieval.services import jobs, processing

log = logging.getLogger(__name__)


def run_job(job_id: int) -> None:
    job = jobs.claim(job_id)
    if job is None:
        return  # finished already: a duplicate or re-enqueued message
    try:
        if job.step == "metadata":
            _run_metadata(job)
        elif job.step.startswith("plugin:"):
            from retrieval.services import plugins

            plugins.run_plugin_job(job)
        else:
            jobs.fail(job, f"unknown processing step {job.step!r}")
    except TransientPluginError as exc:
        jobs.release(job, str(exc))
        raise
    except Exception as exc:  # noqa: BLE001 - a job must end with a recorded reason, never kill the worker
        log.exception("job %s (%s) failed", job.pk, job.step)
        jobs.fail(job, f"internal error: {exc.__class__.__name__}: {exc}")
        if job.step == "metadata":
            processing.mark_rejected(job.media_id, f"processing failed: {exc.__class__.__name__}")


def _run_metadata(job: ProcessingJob) -> None:
    try:
        processing.run_metadata_step(job)
    except processing.MediaRejected as exc:
        jobs.fail(job, str(exc))
        processing.mark_rejected(job.media_id, str(exc))
        return
    from retrieval.services import plugins

    plugins.fan_out(job.media)
    jobs.complete(job)


def fail_job(job_id: int, reason: str) -> None:
    job = ProcessingJob.objects.filter(pk=job_id).first()
    if job and job.state not in (JobState.DONE, JobState.FAILED):
        jobs.fail(job, reason)
        if job.step == "metadata":
            processing.mark_rejected(job.media_id, reason)


__all__ = ["run_job", "fail_job", "MediaStatus"]
