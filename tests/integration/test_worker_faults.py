"""Real worker processes: plugin fan-out through per-plugin queues, and kill -9 in the middle of a batch."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from rest_framework.test import APIClient

from retrieval.models import Finding, JobState, MediaItem, PluginConfiguration, ProcessingJob
from retrieval.plugin_registry import reset_registry
from retrieval.services import jobs, plugins
from tests import samples
from tests.conftest import wait_for
from tests.helpers import upload

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
EXTRA = "histogram=tests.fakes:HistogramPlugin"


@pytest.fixture
def registry_with_histogram(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MMSEC_EXTRA_PLUGINS", EXTRA)
    reset_registry()
    plugins.sync_plugins()
    yield
    reset_registry()


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_killing_a_worker_mid_batch_still_finishes_every_job_exactly_once(personas, worker_factory,
                                                                           registry_with_histogram, settings) -> None:
    config = PluginConfiguration.objects.get(name="histogram")
    plugins.update_configuration(actor=None, config=config, enabled=True, batch_size=2,
                                 settings={"sleep_s": 0.6})
    client = _client(personas["alice"])
    ids = [upload(client, personas["case"].pk, f"{i}.png", samples.png_bytes(40 + i, 40)).json()[0]["media"]["id"]
           for i in range(6)]
    step = "plugin:histogram@hist16-v1"
    first = worker_factory(MMSEC_EXTRA_PLUGINS=EXTRA)
    wait_for(lambda: ProcessingJob.objects.filter(step=step, state=JobState.DONE).exists()
             and ProcessingJob.objects.filter(step=step, state=JobState.RUNNING).exists(),
             timeout=90, what="a batch in progress", on_timeout=first.log)
    first.kill()
    assert ProcessingJob.objects.filter(step=step).exclude(state=JobState.DONE).exists()

    second = worker_factory(MMSEC_EXTRA_PLUGINS=EXTRA)
    settings.MMSEC_JOB_STALE_SECONDS = 0  # what celery beat's reconciler does after the stale timeout
    jobs.reconcile()
    wait_for(lambda: ProcessingJob.objects.filter(step=step, state=JobState.DONE).count() == 6, timeout=120,
             what="all plugin jobs done", on_timeout=second.log)
    for media_id in ids:
        assert Finding.objects.filter(media_id=media_id, plugin="histogram").count() == 1
        assert MediaItem.objects.get(pk=media_id).status == "ready"
    assert ProcessingJob.objects.filter(step=step).count() == 6


def test_example_plugin_path_upload_queue_worker_embeddings_search(personas, worker_factory, client) -> None:
    reset_registry()
    plugins.sync_plugins()
    config = PluginConfiguration.objects.get(name="image_phash")
    assert config.effective_queue == "cpu.image_phash"
    plugins.update_configuration(actor=None, config=config, enabled=True)
    worker = worker_factory()
    api = _client(personas["alice"])
    original = samples.jpeg_bytes(400, 300)
    img = Image.open(io.BytesIO(original)).resize((200, 150))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=50)
    a = upload(api, personas["case"].pk, "original.jpg", original).json()[0]["media"]["id"]
    b = upload(api, personas["case"].pk, "copy.jpg", buf.getvalue()).json()[0]["media"]["id"]
    wait_for(lambda: Finding.objects.filter(plugin="image_phash").count() == 2, timeout=90,
             what="phash findings", on_timeout=worker.log)
    finding = Finding.objects.get(media_id=a, plugin="image_phash")
    hits = api.post("/api/v1/search/similar/", {"plugin": "image_phash", "space": "phash", "finding": finding.pk,
                                                "k": 5}, format="json").json()["hits"]
    assert [h["media_id"] for h in hits][:2] == [a, b]
    assert hits[1]["similarity"] > 0.7  # flat synthetic picture; structured scenes score higher (example tests)
    client.force_login(personas["alice"])
    page = client.get(f"/media/{a}/")
    assert b"Similar" in page.content and b"copy.jpg" in page.content
