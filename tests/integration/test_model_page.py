"""The administrators' model page: staff only, aggregates only (no evidence of cases they are not in)."""

from __future__ import annotations

import pytest

from retrieval.models import MediaItem
from retrieval.services import model_stats, plugins
from retrieval.services.embeddings import NewFinding, store_findings
from tests import samples
from tests.helpers import upload

pytestmark = pytest.mark.django_db


def test_histogram_counts_every_score_once(api, personas) -> None:
    response = upload(api("alice"), personas["case"].pk, "secret-name.wav", samples.wav_bytes(1.0))
    media = MediaItem.objects.get(pk=response.json()[0]["media"]["id"])
    scores = [0.0, 0.1, 0.5, 0.5, 0.99, 1.0]
    store_findings(media, "audio_events", "vX", [NewFinding(key=f"audio:0:{i}", label="siren", score=s)
                                                 for i, s in enumerate(scores)])
    counts, (lo, hi) = model_stats.score_histogram("audio_events", "vX", bins=10)
    assert sum(counts) == len(scores) and (lo, hi) == (0.0, 1.0)
    assert counts[0] == 1 and counts[1] == 1 and counts[5] == 2 and counts[9] == 2  # the top edge joins the last bin


def test_model_page_is_staff_only_and_leaks_no_evidence(client, api, personas) -> None:
    plugins.sync_plugins()
    response = upload(api("alice"), personas["case"].pk, "secret-name.wav", samples.wav_bytes(1.0))
    media = MediaItem.objects.get(pk=response.json()[0]["media"]["id"])
    store_findings(media, "audio_events", "yamnet-sead0.2.1-f32-tfmel-v1",
                   [NewFinding(key="audio:0:0", label="siren", score=0.7)])
    client.force_login(personas["alice"])
    assert client.get("/models/").status_code == 302  # to the admin login
    client.force_login(personas["staff"])
    page = client.get("/models/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "audio_events" in body and "speech_translation" in body and "Score distribution" in body
    assert "secret-name" not in body and personas["case"].title not in body
    assert client.get("/models/status.json").json() == {"runs": []}
