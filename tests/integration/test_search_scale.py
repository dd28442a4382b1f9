"""Search queries that the scale benchmark (bench/case_page.py, issue 9) made index-backed: the transcript
language list (loose index scan) and the sound-event type filter (label OR AudioSet class): same answers, visible
cases only, and the indexes of migration 0010 in place."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from retrieval.models import MediaItem
from retrieval.services import audio_events, transcripts
from retrieval.services.embeddings import NewFinding, store_findings
from tests import samples
from tests.helpers import upload

pytestmark = pytest.mark.django_db


def _media(api: Any, personas: dict[str, Any], case_key: str, who: str) -> MediaItem:
    response = upload(api(who), personas[case_key].pk, "clip.wav", samples.wav_bytes(1.0))
    assert response.status_code == 201, response.content
    return MediaItem.objects.get(pk=response.json()[0]["media"]["id"])


def _indexdef(name: str) -> str:
    """The definition of an index of migration 0010 (its plans at scale: docs/benchmarks/case_page.md)."""
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [name])
        row = cur.fetchone()
    assert row is not None, f"index {name} is missing"
    return row[0]


def test_transcript_languages_are_those_of_visible_cases_only(api, personas) -> None:
    mine = _media(api, personas, "case", "alice")
    theirs = _media(api, personas, "other_case", "charlie")
    store_findings(mine, "speech_translation", "v1", [
        NewFinding(key=f"audio:0:{i}", text="hola", start_s=float(i), end_s=i + 1.0, data={"language": lang})
        for i, lang in enumerate(["es", "en", "es", "de", "en"])
    ] + [NewFinding(key="audio:0:9", text="no language", start_s=9.0, end_s=10.0, data={})])
    store_findings(theirs, "speech_translation", "v1", [
        NewFinding(key="audio:0:0", text="bonjour", start_s=0.0, end_s=1.0, data={"language": "fr"})])
    assert transcripts.languages(personas["alice"]) == ["de", "en", "es"]
    assert transcripts.languages(personas["charlie"]) == ["fr"]
    assert transcripts.languages(personas["bob"]) == ["de", "en", "es"]
    assert transcripts.languages(personas["staff"]) == []  # staff is not a member of any case
    assert "WHERE ((plugin)::text = 'speech_translation'::text)" in _indexdef("finding_speech_language")


def test_event_type_filter_matches_label_or_audioset_class_through_indexes(api, personas) -> None:
    media = _media(api, personas, "case", "alice")
    version = (audio_events._active_versions() or ["v1"])[0]
    store_findings(media, "audio_events", version, [
        NewFinding(key="audio:0:0", label="gunshot", score=0.9, start_s=1.0, end_s=1.5,
                   data={"audioset_class": "Gunshot, gunfire"}),
        NewFinding(key="audio:0:1", label="other", score=0.8, start_s=2.0, end_s=2.5,
                   data={"audioset_class": "Cap gun"}),
        NewFinding(key="audio:0:2", label="siren", score=0.7, start_s=3.0, end_s=3.5, data={"audioset_class": "Siren"}),
    ])
    alice = personas["alice"]
    by_type = audio_events.event_queryset(alice, audio_events.EventFilters(types=["gunshot", "Cap gun"]))
    assert sorted(f.label for f in by_type) == ["gunshot", "other"]
    assert not audio_events.event_queryset(personas["charlie"], audio_events.EventFilters(types=["gunshot"])).exists()
    assert "WHERE ((plugin)::text = 'audio_events'::text)" in _indexdef("finding_event_class")
