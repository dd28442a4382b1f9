"""End to end through a real Celery worker process over the real (embedded) Redis."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from retrieval.models import JobState, MediaItem, ProcessingJob
from retrieval.services import jobs
from tests import samples
from tests.conftest import wait_for
from tests.helpers import upload

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_worker_processes_image_audio_and_video_uploads(personas, worker_factory) -> None:
    worker = worker_factory()
    client = _client(personas["alice"])
    ids = []
    for name, data in [("p.png", samples.png_bytes(200, 100)), ("a.mp3", samples.encode_audio("mp3", "libmp3lame")),
                       ("v.mp4", samples.mp4_bytes(seconds=2.0)), ("bad.jpg", b"not an image at all")]:
        response = upload(client, personas["case"].pk, name, data)
        assert response.status_code == 201
        ids.append(response.json()[0]["media"]["id"])

    def all_done() -> bool:
        return not MediaItem.objects.filter(pk__in=ids, status__in=["pending", "processing"]).exists()

    wait_for(all_done, timeout=90, what="processing by the worker", on_timeout=worker.log)
    items = {m.original_name: m for m in MediaItem.objects.filter(pk__in=ids)}
    assert items["p.png"].status == "ready" and items["p.png"].has_preview
    assert items["a.mp3"].status == "ready" and abs(items["a.mp3"].duration_s - 1.0) < 0.1
    assert items["v.mp4"].status == "ready" and items["v.mp4"].has_preview and items["v.mp4"].width == 96
    assert items["bad.jpg"].status == "failed" and "unsupported file type" in items["bad.jpg"].error


def test_the_reconciler_recovers_jobs_whose_message_was_lost(personas, worker_factory, settings) -> None:
    from tests.conftest import flush_redis

    client = _client(personas["alice"])
    media_id = upload(client, personas["case"].pk, "p.png", samples.png_bytes()).json()[0]["media"]["id"]
    flush_redis()  # the queued message is gone, as after a Redis restart without persistence
    job = ProcessingJob.objects.get(media_id=media_id)
    assert job.state == JobState.QUEUED
    worker = worker_factory()
    settings.MMSEC_JOB_STALE_SECONDS = 0
    assert jobs.reconcile() == 1
    wait_for(lambda: MediaItem.objects.get(pk=media_id).status == "ready", timeout=60,
             what="reconciled job", on_timeout=worker.log)
    assert ProcessingJob.objects.get(pk=job.pk).attempts == 1
