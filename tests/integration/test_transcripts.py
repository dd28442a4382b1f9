"""Transcripts: full-text / semantic / hybrid search (visibility in SQL), the media-page panel and timeline,
SRT/WebVTT/text export, registering a larger Whisper as a model version, and progress of long recordings.

Segments are stored as the speech plugin stores them; vectors come from the real MiniLM weights and the
end-to-end tests run the real Whisper base (``var/models``, installed by ``make models``).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import wave
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from retrieval.models import (
    AuditEvent,
    Finding,
    MediaItem,
    ModelVersion,
    PluginConfiguration,
    ProcessingJob,
    ReprocessRun,
)
from retrieval.services import embeddings, plugins, transcripts, watchlists
from retrieval.services.embeddings import NewFinding, store_findings
from tests import samples
from tests.conftest import wait_for
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "var" / "models"
SAMPLES = ROOT / "plugins" / "speech_translation" / "tests" / "samples"
VERSION = "v-test"

ALICE_LINES = [
    (3.0, "vamos al banco mañana a las seis", "we go to the bank tomorrow at six", "es"),
    (9.0, "nada más", "nothing else", "es"),
    (14.5, "o carro está na garagem <script>", "the car is in the garage <script>", "pt"),
    (20.0, "the money is in the account", "the money is in the account", "en"),
]


def _needs_minilm() -> None:
    if not (MODELS / "speech_translation" / "minilm" / "model.safetensors").is_file():
        pytest.fail("MiniLM weights missing under var/models: run `make models`")


@pytest.fixture
def model_dir(settings):
    settings.MMSEC_MODEL_DIR = MODELS
    return MODELS


def _media(api, personas, case_key: str = "case", who: str = "alice", name: str = "call.wav",
           seconds: float = 30.0) -> MediaItem:
    response = upload(api(who), personas[case_key].pk, name, samples.wav_bytes(seconds))
    assert response.status_code == 201, response.content
    return process_inline(response.json()[0]["media"]["id"])  # metadata: kind and duration


def _store(media: MediaItem, lines, *, with_vectors: bool = True) -> None:
    space = None
    vectors = [None] * len(lines)
    if with_vectors:
        _needs_minilm()
        space = embeddings.get_or_create_space(transcripts.PLUGIN, transcripts.SPACE, VERSION, 384)
        vectors = [transcripts.embed_query(en) for _, _, en, _ in lines]
    store_findings(media, transcripts.PLUGIN, VERSION, [
        NewFinding(key=f"audio:0:{i}", space=space, vector=vec, text=text, start_s=start, end_s=start + 2.5,
                   score=0.9, data={"language": lang, "text_en": en, "engine": "apertium" if lang != "en" else "none"})
        for i, ((start, text, en, lang), vec) in enumerate(zip(lines, vectors, strict=True))
    ])


@pytest.fixture
def corpus(api, personas, model_dir):
    mine = _media(api, personas)
    _store(mine, ALICE_LINES)
    theirs = _media(api, personas, case_key="other_case", who="charlie", name="other.wav")
    _store(theirs, [(1.0, "el banco de charlie", "charlie's bank", "es")])
    return mine, theirs


# --------------------------------------------------------------------------- search


def test_full_text_searches_original_and_english_ranked_with_escaped_highlights(corpus, personas) -> None:
    mine, theirs = corpus
    alice = personas["alice"]
    hits = transcripts.full_text(alice, "banco")
    assert [(h.media_id, h.start_s) for h in hits] == [(mine.pk, 3.0)]  # charlie's "banco" is not visible
    assert "<mark>banco</mark>" in hits[0].snippet and hits[0].text_rank == 1
    # English side is stemmed: "banks" finds "bank", "garages" finds "garage"
    assert [h.start_s for h in transcripts.full_text(alice, "banks")] == [3.0]
    hit = transcripts.full_text(alice, "garages")[0]
    assert "<mark>garage</mark>" in hit.snippet_en and "&lt;script" in hit.snippet_en
    assert "<script" not in hit.snippet_en and hit.snippet == ""  # no match in the original: no snippet
    # phrases and OR (websearch syntax); the better match ranks first
    assert [h.start_s for h in transcripts.full_text(alice, '"tomorrow at six"')] == [3.0]
    assert {h.start_s for h in transcripts.full_text(alice, "money or nothing")} == {9.0, 20.0}
    charlie = [h.media_id for h in transcripts.full_text(personas["charlie"], "banco")]
    assert charlie == [theirs.pk]
    assert transcripts.full_text(personas["staff"], "banco") == []  # staff without membership: nothing
    assert transcripts.full_text(alice, "") == []


def test_full_text_ranks_segments_that_say_it_more_first(api, personas, model_dir) -> None:
    media = _media(api, personas)
    _store(media, [(1.0, "el dinero", "the money", "es"),
                   (5.0, "dinero, dinero y más dinero", "money, money and more money", "es"),
                   (9.0, "nada", "nothing", "es")], with_vectors=False)
    hits = transcripts.full_text(personas["alice"], "dinero OR money")
    assert [h.start_s for h in hits] == [5.0, 1.0] and hits[0].text_score > hits[1].text_score > 0


def test_filters_language_dates_and_cases_are_applied_in_sql(corpus, personas) -> None:
    alice = personas["alice"]
    f = transcripts.TranscriptFilters
    assert [h.language for h in transcripts.full_text(alice, "garage", f(language="pt"))] == ["pt"]
    assert transcripts.full_text(alice, "garage", f(language="es")) == []
    tomorrow = transcripts.parse_request({"after": (date.today() + timedelta(days=2)).isoformat()}).filters
    assert transcripts.full_text(alice, "garage", tomorrow) == []
    today = transcripts.parse_request({"before": date.today().isoformat(), "after": "2020-01-01"}).filters
    assert len(transcripts.full_text(alice, "garage", today)) == 1
    # asking for charlie's case explicitly gives nothing, not his data
    assert transcripts.full_text(alice, "banco", f(case_ids=[personas["other_case"].pk])) == []
    bad = transcripts.parse_request({"after": "yesterday", "mode": "fuzzy", "case": "x"})
    assert set(bad.errors) == {"after", "mode", "case"}
    assert transcripts.languages(alice) == ["en", "es", "pt"]


def test_full_text_uses_the_partial_gin_indexes(corpus) -> None:
    with connection.cursor() as cur:  # enough other segments that the GIN indexes are the selective path
        cur.execute(
            "INSERT INTO retrieval_finding (media_id, case_id, media_kind, plugin, model_version, key, label, text, "
            "data, created_at) SELECT %s, %s, 'audio', 'speech_translation', 'filler', 'k' || g, '', "
            "'palabras de relleno ' || g, jsonb_build_object('text_en', 'filler words ' || g), now() "
            "FROM generate_series(1, 5000) g", [corpus[0].pk, corpus[0].case_id])
        cur.execute("SELECT gin_clean_pending_list('finding_fts_original'), "
                    "gin_clean_pending_list('finding_fts_english')")  # as autovacuum would
        cur.execute("ANALYZE retrieval_finding")
    sql = (f"EXPLAIN SELECT f.id FROM retrieval_finding f WHERE f.plugin = 'speech_translation' AND "
           f"({transcripts.TSV_ORIGINAL} @@ websearch_to_tsquery('simple', 'banco') OR "
           f"{transcripts.TSV_ENGLISH} @@ websearch_to_tsquery('english', 'banco'))")
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(sql)
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "finding_fts_original" in plan and "finding_fts_english" in plan, plan


def test_semantic_and_hybrid_ranking(corpus, personas) -> None:
    alice = personas["alice"]
    sem = transcripts.semantic(alice, "financial institution where you keep savings")
    assert sem[0].start_s in (3.0, 20.0) and sem[0].semantic_rank == 1
    assert {h.media_id for h in sem} == {corpus[0].pk}  # visibility: never charlie's segment
    assert transcripts.semantic(alice, "automobile parked at home")[0].start_s == 14.5
    assert [h.start_s for h in transcripts.semantic(alice, "bank", transcripts.TranscriptFilters(language="es"))] \
        == [3.0]
    assert all(h.similarity >= transcripts.SEMANTIC_MIN_SIMILARITY for h in sem)
    assert transcripts.semantic(alice, "volcanic eruption on a glacier") == []  # nothing about it: no hits
    hybrid = transcripts.search_transcripts(alice, "bank", mode="hybrid")
    top = hybrid.hits[0]
    assert top.start_s == 3.0 and top.text_rank == 1 and top.semantic_rank is not None
    assert top.score == pytest.approx(1 / 61 + 1 / (60 + top.semantic_rank))
    assert hybrid.total == 2 and [h.score for h in hybrid.hits] == sorted((h.score for h in hybrid.hits),
                                                                            reverse=True)
    assert "embed" in hybrid.timings_ms and top.href == f"/media/{corpus[0].pk}/?t=3.00"
    text_only = transcripts.search_transcripts(alice, "bank", mode="text")
    assert text_only.total == 1 and "semantic" not in text_only.timings_ms
    page2 = transcripts.search_transcripts(alice, "bank", mode="semantic", offset=1, limit=1)
    page1 = transcripts.search_transcripts(alice, "bank", mode="semantic", offset=0, limit=1)
    assert len(page2.hits) == 1 and page2.total == 2
    assert {page1.hits[0].start_s, page2.hits[0].start_s} == {3.0, 20.0}
    with pytest.raises(ValueError):
        transcripts.search_transcripts(alice, "bank", mode="nope")


def test_search_page_and_api_are_audited_and_scoped(corpus, client, api, personas) -> None:
    mine, theirs = corpus
    client.force_login(personas["alice"])
    page = client.get("/search/transcripts/", {"q": "banco", "mode": "text"})
    body = page.content.decode()
    assert page.status_code == 200 and "<mark>banco</mark>" in body
    assert f'href="/media/{mine.pk}/?t=3.00"' in body and f"/media/{theirs.pk}/" not in body
    assert "1 matching line" in body
    assert "Search what was said" in client.get("/search/transcripts/").content.decode()
    assert "Nothing found" in client.get("/search/transcripts/", {"q": "zebra", "mode": "text"}).content.decode()
    assert "after: use a date" in client.get("/search/transcripts/", {"q": "x", "after": "soon"}).content.decode()
    event = AuditEvent.objects.filter(action="transcript.search", details__q="banco").get()
    assert event.actor_name == "alice" and event.details["hits"] == 1 and event.details["mode"] == "text"

    response = api("alice").get("/api/v1/search/transcripts/", {"q": "bank"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["mode"] == "hybrid" and data["count"] == 2 and data["results"][0]["start_s"] == 3.0
    assert data["results"][0]["href"] == f"/media/{mine.pk}/?t=3.00"
    assert {r["media_id"] for r in data["results"]} == {mine.pk}
    charlie = api("charlie").get("/api/v1/search/transcripts/", {"q": "bank", "mode": "text"}).json()
    assert [r["media_id"] for r in charlie["results"]] == [theirs.pk]
    assert api("alice").get("/api/v1/search/transcripts/").status_code == 400
    assert api("alice").get("/api/v1/search/transcripts/", {"q": "a", "limit": "x"}).status_code == 400
    assert api(None).get("/api/v1/search/transcripts/", {"q": "bank"}).status_code in (401, 403)
    client.logout()
    assert client.get("/search/transcripts/", {"q": "bank"}).status_code == 302


# --------------------------------------------------------------------------- media page


def test_panel_lines_seek_toggle_and_keyword_highlights(corpus, client, personas) -> None:
    mine, _ = corpus
    wl = watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Words", kind="keyword")
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="tomorrow at six")
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="banco")
    client.force_login(personas["victor"])  # a viewer sees the transcript too
    body = client.get(f"/media/{mine.pk}/").content.decode()
    assert 'id="panel-transcript"' in body and 'data-seek="3.00"' in body and 'data-seek="14.50"' in body
    assert "vamos al <mark>banco</mark> mañana" in body
    assert "we go to the bank <mark>tomorrow at six</mark>" in body
    assert "garagem &lt;script&gt;" in body and "tr-show-en" in body
    assert "<mark>1</mark> line with watchlist keywords" in body
    data = json.loads(body.split('id="timeline-data" type="application/json">')[1].split("</script>")[0])
    track = [s for s in data if s["track"] == "Transcript"]
    assert [s["start_s"] for s in track] == [3.0, 9.0, 14.5, 20.0]
    assert track[0]["label"].startswith("[es] we go to the bank") and track[0]["color"]
    assert not [s for s in data if s["track"] == "speech_translation"]  # no generic duplicate row


def test_panel_while_transcribing_and_when_no_speech(api, personas, client) -> None:
    media = _media(api, personas)
    client.force_login(personas["alice"])
    assert 'id="panel-transcript"' not in client.get(f"/media/{media.pk}/").content.decode()
    job = ProcessingJob.objects.create(media=media, step=f"plugin:{transcripts.PLUGIN}@{VERSION}",
                                       state="running", progress=0.42)
    body = client.get(f"/media/{media.pk}/").content.decode()
    assert "Transcribing" in body and "42 % of the recording processed" in body
    status = client.get(f"/cases/{media.case_id}/status/", {"ids": str(media.pk)}).json()
    step = [s for s in status["items"][0]["steps"] if s["step"] == job.step][0]
    assert step["progress"] == 0.42
    ProcessingJob.objects.filter(pk=job.pk).update(state="done", progress=1.0)
    assert "No speech found" in client.get(f"/media/{media.pk}/").content.decode()


# --------------------------------------------------------------------------- export


def test_export_srt_vtt_text_original_and_english(corpus, client, api, personas) -> None:
    mine, theirs = corpus
    client.force_login(personas["alice"])
    srt = client.get(f"/media/{mine.pk}/transcript.srt")
    assert srt.status_code == 200 and srt["Content-Type"].startswith("application/x-subrip")
    assert "attachment" in srt["Content-Disposition"] and "call.original.srt" in srt["Content-Disposition"]
    assert srt.content.decode().startswith(
        "1\n00:00:03,000 --> 00:00:05,500\nvamos al banco mañana a las seis\n\n2\n00:00:09,000 --> 00:00:11,500\n")
    vtt = client.get(f"/media/{mine.pk}/transcript.vtt", {"lang": "en"}).content.decode()
    assert vtt.startswith("WEBVTT\n\n1\n00:00:03.000 --> 00:00:05.500\nwe go to the bank tomorrow at six\n")
    assert "the car is in the garage <script>" in vtt
    txt = client.get(f"/media/{mine.pk}/transcript.txt").content.decode()
    assert "[00:00:03] (es) vamos al banco mañana a las seis" in txt and "# Original words" in txt
    assert client.get(f"/media/{mine.pk}/transcript.doc").status_code == 404
    assert client.get(f"/media/{mine.pk}/transcript.srt", {"lang": "fr"}).status_code == 404
    assert client.get(f"/media/{theirs.pk}/transcript.srt").status_code == 404  # charlie's: not found
    events = AuditEvent.objects.filter(action="transcript.export", actor_name="alice")
    assert sorted(e.details["format"] for e in events) == ["srt", "txt", "vtt"]

    r = api("bob").get(f"/api/v1/media/{mine.pk}/transcript/", {"export": "vtt", "lang": "en"})
    assert r.status_code == 200 and r.content.decode() == vtt
    lines = api("bob").get(f"/api/v1/media/{mine.pk}/transcript/").json()
    assert lines["model_version"] == VERSION and lines["segments"][0]["text_en"].startswith("we go to the bank")
    assert api("bob").get(f"/api/v1/media/{mine.pk}/transcript/", {"export": "doc"}).status_code == 400
    assert api("charlie").get(f"/api/v1/media/{mine.pk}/transcript/").status_code == 404
    assert AuditEvent.objects.filter(action="transcript.export", actor_name="bob").count() == 1


def test_export_formats_edge_cases() -> None:
    seg = transcripts.Segment(finding_id=1, start_s=3661.2346, end_s=3600.0, text="a  -->  b\n c", text_en="",
                              language="", engine="", confidence=None)
    assert transcripts.export([seg], "srt") == "1\n01:01:01,235 --> 01:01:01,235\na --> b c\n"
    assert transcripts.export([seg], "vtt", english=True).endswith("a -> b c\n")  # no English: original kept
    assert transcripts.export([], "srt") == "" and transcripts.export([], "vtt") == "WEBVTT\n\n"
    with pytest.raises(ValueError):
        transcripts.export([seg], "docx")
    assert seg.clock == "1:01:01" and transcripts.clock(74.9) == "1:14" and transcripts.clock(-1) == "0:00"


# --------------------------------------------------------------------------- model management


def _fake_whisper_dir(root: Path, **extra: bytes) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"lang_ids": [1], "alignment_heads": [[1, 1]]}))
    (root / "model.bin").write_bytes(b"\x06\x00\x00\x00fake ctranslate2 weights")
    (root / "tokenizer.json").write_text("{}")
    for name, data in extra.items():
        (root / name).write_bytes(data)
    return root


def test_register_whisper_directory_validation(personas, model_dir, tmp_path, client) -> None:
    plugins.sync_plugins()
    staff = personas["staff"]

    def register(path: Path, version: str = "whisper-x") -> ModelVersion:
        return plugins.register_model_version(actor=staff, plugin="speech_translation", version=version,
                                              weights=path)

    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    with pytest.raises(ValidationError, match="model.bin is missing"):
        register(incomplete)
    english_only = _fake_whisper_dir(tmp_path / "en")
    (english_only / "config.json").write_text("{}")
    with pytest.raises(ValidationError, match="not a multilingual Whisper"):
        register(english_only)
    with pytest.raises(ValidationError, match="directory, not a single file"):
        register(_fake_whisper_dir(tmp_path / "file") / "model.bin")
    with pytest.raises(ValidationError, match="Python pickle"):
        register(_fake_whisper_dir(tmp_path / "pickle", **{"extra.bin": b"\x80\x04\x95 cos\nsystem\n"}))
    with pytest.raises(ValidationError, match="not accepted"):
        register(_fake_whisper_dir(tmp_path / "pt", **{"weights.pt": b"PK\x03\x04"}))
    with pytest.raises(ValidationError, match="does not exist"):
        register(tmp_path / "nowhere")
    assert not ModelVersion.objects.filter(version="whisper-x").exists()

    good = _fake_whisper_dir(tmp_path / "good", **{"vocabulary.json": b"[]"})
    call_command("register_model_version", "speech_translation", "whisper-x", str(good), note="test",
                 stdout=io.StringIO())
    model = ModelVersion.objects.get(plugin="speech_translation", version="whisper-x")
    paths = {a["path"] for a in model.artifacts}
    assert str(good / "model.bin") in paths and str(good / "vocabulary.json") in paths  # every file, absolute
    assert "minilm/model.safetensors" in paths and "silero-vad/silero_vad_16k_sequence.onnx" in paths
    assert not any(p.startswith("whisper-base/") for p in paths)  # replaced by the registered directory
    assert model.weights_path == str(good)
    assert AuditEvent.objects.filter(action="plugin.model_version.register").exists()
    with pytest.raises(ValidationError, match="unique version"):
        register(good, "whisper-x")
    client.force_login(staff)  # administration: start a reprocess with the registered version
    response = client.post("/admin/retrieval/modelversion/", {"action": "reprocess_with",
                                                              "_selected_action": [model.pk]})
    assert response.status_code == 302
    assert ReprocessRun.objects.filter(plugin="speech_translation", model_version="whisper-x").exists()


def _link_tree(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for f in src.iterdir():
        try:
            os.link(f, dest / f.name)
        except OSError:
            shutil.copy2(f, dest / f.name)
    return dest


def _enable_speech(personas) -> PluginConfiguration:
    plugins.sync_plugins()
    config = PluginConfiguration.objects.get(name="speech_translation")
    if not config.installed:
        pytest.fail("speech_translation is not installed")
    return plugins.update_configuration(actor=personas["staff"], config=config, enabled=True)


def test_registered_whisper_copy_runs_as_new_version_and_search_finds_it(api, personas, model_dir, tmp_path,
                                                                          client) -> None:
    """Happy path on real weights: the base model re-registered as a "new" checkpoint transcribes a clip."""
    _enable_speech(personas)
    sample = SAMPLES / "librivox_0870.flac"
    response = upload(api("alice"), personas["case"].pk, "call.flac", sample.read_bytes())
    media = process_inline(response.json()[0]["media"]["id"])
    base = list(Finding.objects.filter(media=media, plugin="speech_translation"))
    assert base and base[0].data["asr_model"] == "whisper-base"

    copy = _link_tree(model_dir / "speech_translation" / "whisper-base", tmp_path / "whisper-copy")
    plugins.register_model_version(actor=personas["staff"], plugin="speech_translation", version="whisper-copy",
                                   weights=copy, note="same weights, as an admin-supplied directory")
    plugins.start_reprocess(actor=personas["staff"], plugin="speech_translation", version="whisper-copy")
    process_inline(media.pk)
    job = ProcessingJob.objects.get(media=media, step="plugin:speech_translation@whisper-copy")
    assert job.state == "done", job.error
    new = list(Finding.objects.filter(media=media, model_version="whisper-copy").order_by("start_s"))
    assert [f.text for f in new] == [f.text for f in sorted(base, key=lambda f: f.start_s)]
    assert new[0].data["asr_model"].startswith("custom-")
    # the whole-corpus reprocess made it the active version: search and the panel now use it
    assert PluginConfiguration.objects.get(name="speech_translation").active_model_version == "whisper-copy"
    assert transcripts.transcript_version(media) == "whisper-copy"
    hits = transcripts.search_transcripts(personas["alice"], "Dashwood", mode="hybrid").hits
    assert hits and hits[0].media_id == media.pk and hits[0].text_rank == 1
    assert {h.finding_id for h in hits} <= {f.pk for f in new}
    client.force_login(personas["alice"])
    assert 'data-seek="' in client.get(f"/media/{media.pk}/").content.decode()


def test_tampered_registered_whisper_is_refused_at_load(api, personas, model_dir, tmp_path) -> None:
    _enable_speech(personas)
    fake = _fake_whisper_dir(tmp_path / "w")
    plugins.register_model_version(actor=personas["staff"], plugin="speech_translation", version="w-tampered",
                                   weights=fake)
    (fake / "model.bin").write_bytes(b"\x06\x00\x00\x00changed after registration")
    media = _media(api, personas, seconds=1.0)
    process_inline(media.pk)
    plugins.start_reprocess(actor=personas["staff"], plugin="speech_translation", version="w-tampered",
                            case=personas["case"])
    process_inline(media.pk)
    job = ProcessingJob.objects.get(media=media, step="plugin:speech_translation@w-tampered")
    assert job.state == "failed" and "SHA-256" in job.error


# --------------------------------------------------------------------------- progress of long recordings


def _long_speech_wav(seconds: float) -> bytes:
    from retrieval.media_io import iter_audio

    clip = np.concatenate([c for _, c in iter_audio(SAMPLES / "librivox_0870.flac", sample_rate=16_000)])
    gap = np.zeros(16_000, np.float32)
    reps = int(seconds // (len(clip) / 16_000 + 1.0)) + 1
    audio = np.concatenate([np.concatenate([clip, gap]) for _ in range(reps)])[: int(seconds * 16_000)]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


@pytest.mark.worker
@pytest.mark.timeout(600)
def test_long_recording_reports_progress_while_a_real_worker_transcribes(api, personas, worker_factory) -> None:
    _enable_speech(personas)
    PluginConfiguration.objects.filter(name="speech_translation").update(settings={"chunk_s": 5.0})
    worker = worker_factory(MMSEC_MODEL_DIR=str(MODELS))
    response = upload(api("alice"), personas["case"].pk, "long.wav", _long_speech_wav(40.0))
    media_id = response.json()[0]["media"]["id"]
    seen: set[float] = set()

    def finished() -> bool:
        job = ProcessingJob.objects.filter(media_id=media_id, step__startswith="plugin:speech_translation").first()
        if job is None:
            return False
        if job.state == "running":
            seen.add(round(job.progress, 3))
        return job.state in ("done", "failed")

    wait_for(finished, timeout=540, what="the speech job", on_timeout=worker.log)
    job = ProcessingJob.objects.get(media_id=media_id, step__startswith="plugin:speech_translation")
    assert job.state == "done", job.error
    partial = sorted(p for p in seen if 0.0 < p < 1.0)
    assert partial, (seen, worker.log())
    assert Finding.objects.filter(media_id=media_id, plugin="speech_translation").count() >= 2
