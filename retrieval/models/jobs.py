"""Processing state lives in the database, so nothing is lost when Redis is flushed."""

from __future__ import annotations

from django.db import models

from retrieval.models.media import MediaItem


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


#: States from which the reconciler may re-enqueue a job.
OPEN_STATES = (JobState.QUEUED, JobState.RUNNING)


class ProcessingJob(models.Model):
    """One step of work on one media item (``metadata``, ``plugin:<name>@<model_version>``)."""

    media = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="jobs")
    step = models.CharField(max_length=128)
    queue = models.CharField(max_length=64, default="default")
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    attempts = models.IntegerField(default=0)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    # Done, but not on all of the media: what the user must know (a truncated recording analysed in part,
    # frames that failed). Empty when the whole item was analysed.
    warning = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["media_id", "id"]
        constraints = [models.UniqueConstraint(fields=["media", "step"], name="uniq_job_step")]
        indexes = [models.Index(fields=["state", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.step} on media {self.media_id}: {self.state}"
