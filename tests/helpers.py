"""Helpers shared by tests that go through the API."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from retrieval.models import JobState, MediaItem, ProcessingJob
from retrieval.services import pipeline


def upload(client: Any, case_id: int, name: str, data: bytes) -> Any:
    return client.post("/api/v1/media/", {"case": case_id, "file": SimpleUploadedFile(name, data)},
                       format="multipart")


def process_inline(media_id: int) -> MediaItem:
    """Run the queued jobs of one item in this process (what a worker would do), until none is left."""
    for _ in range(10):
        queued = list(ProcessingJob.objects.filter(media_id=media_id, state=JobState.QUEUED))
        if not queued:
            break
        for job in queued:
            pipeline.run_job(job.pk)
    return MediaItem.objects.get(pk=media_id)
