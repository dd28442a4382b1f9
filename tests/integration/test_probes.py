"""Search by example for an audio clip and a fingerprint image (never stored): real audio_fingerprint matching
against the PostgreSQL hash store, real YAMNet sound vectors searched in pgvector, the real fingerprint plugin
with 1:N re-ranking; visibility per persona, bad input (page message / API 400, never a 500), audit rows."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from retrieval.models import AuditEvent, Finding, MediaItem
from retrieval.services import audio_probe, fingerprints, probes, references
from tests import fingerprint_samples as fp
from tests import reference_audio as ra
from tests import samples
from tests.integration.test_audio_events import _enable, _process, siren_scene
from tests.integration.test_fingerprints import _print, fp_plugin, gallery  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _file(name: str, data: bytes) -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


@pytest.fixture(scope="module")
def anthem() -> np.ndarray:
    return ra.music(7, 40.0)


@pytest.fixture
def reference_collection(personas, tmp_path, anthem) -> dict[str, object]:
    collection = references.create_collection(actor=personas["alice"], case=personas["case"], name="Broadcasts")
    recs = {}
    for name, x in (("anthem.wav", anthem), ("jingle.wav", ra.music(8, 25.0))):
        recs[name] = references.add_file(actor=None, collection=collection,
                                         path=_write(tmp_path, name, ra.wav(x))).recording
    references.ingest_recordings([r.pk for r in recs.values()])
    return {"collection": collection, **recs}


# --------------------------------------------------------------------------- audio clip


def test_clip_cut_from_a_reference_is_identified_with_its_offset(personas, tmp_path, anthem,
                                                                 reference_collection) -> None:
    clip = _write(tmp_path, "cut.wav", ra.wav(anthem[int(15.0 * ra.SR):int(25.0 * ra.SR)]))
    media_before, findings_before = MediaItem.objects.count(), Finding.objects.count()
    result = audio_probe.probe_clip(personas["victor"], clip, name="cut.wav")
    assert result.error == "" and result.kind == "audio" and abs(result.analysed_s - 10.0) < 0.1
    best = result.best_recording
    assert best is not None and best.recording == reference_collection["anthem.wav"], result.recordings
    assert result.answer == "anthem.wav"
    assert abs(best.reference_start_s - (15.0 + best.clip_start_s)) < 0.5 and best.clip_start_s < 2.0
    assert best.reference_end_s > 20.0 and 0.5 < best.confidence <= 1.0
    assert all(m.recording != reference_collection["jingle.wav"] for m in result.recordings)
    # Nothing of the probe is stored: no media, no finding; one audit row with its SHA-256.
    assert (MediaItem.objects.count(), Finding.objects.count()) == (media_before, findings_before)
    audit = AuditEvent.objects.filter(action="audio.probe_search").get()
    assert audit.details["probe_sha256"] == probes.sha256_of(clip) and audit.details["answer"] == "anthem.wav"
    assert audit.details["best_recording_id"] == best.recording.pk

    # charlie may not see alice's collection: the same clip is not a known recording for him.
    theirs = audio_probe.probe_clip(personas["charlie"], clip)
    assert theirs.recordings == [] and theirs.answer == "no known recording" and "no reference" in \
        theirs.notes["recordings"]

    noise = _write(tmp_path, "unknown.wav", ra.wav(ra.unknown(15.0)))
    unknown = audio_probe.probe_clip(personas["alice"], noise)
    assert unknown.error == "" and unknown.recordings == [] and unknown.answer == "no known recording"
    assert unknown.reference_tracks == 2 and "recordings" not in unknown.notes


def test_long_clip_is_cut_to_the_analysis_limit(personas, tmp_path, anthem, reference_collection,
                                                monkeypatch) -> None:
    monkeypatch.setattr(audio_probe, "MAX_CLIP_S", 12.0)
    clip = _write(tmp_path, "long.wav", ra.wav(anthem[int(5.0 * ra.SR):]))  # 35 s
    result = audio_probe.probe_clip(personas["alice"], clip)
    assert result.truncated and abs(result.analysed_s - 12.0) < 0.05 and abs(result.duration_s - 35.0) < 0.1
    assert result.best_recording.recording == reference_collection["anthem.wav"]
    assert abs(result.best_recording.reference_start_s - 5.0 - result.best_recording.clip_start_s) < 0.5


def test_video_dropped_on_the_audio_probe_uses_its_sound(personas, tmp_path, anthem, reference_collection) -> None:
    part = anthem[int(20.0 * ra.SR):int(30.0 * ra.SR)]
    track = np.interp(np.arange(int(10.0 * 22050)) / 22050, np.arange(part.size) / ra.SR, part)
    video = _write(tmp_path, "dashcam.mp4", samples.mp4_bytes(seconds=10.0, size=(96, 64), soundtrack=track))
    result = audio_probe.probe_clip(personas["alice"], video)
    assert result.error == "" and result.kind == "video"
    assert result.best_recording.recording == reference_collection["anthem.wav"]
    assert abs(result.best_recording.reference_start_s - 20.0 - result.best_recording.clip_start_s) < 0.5
    silent = _write(tmp_path, "silent.mp4", samples.mp4_bytes(seconds=2.0, with_audio=False))
    assert "no audio" in audio_probe.probe_clip(personas["alice"], silent).error


def test_similar_sounds_come_only_from_visible_cases(api, personas, settings, tmp_path, client) -> None:
    _enable(personas, settings)
    ours = _process(api, personas, "alice", "case", "harbour-siren.wav", siren_scene(seed=1, at_s=4.0))
    theirs = _process(api, personas, "charlie", "other_case", "their-siren.wav", siren_scene(seed=2, at_s=2.0))
    clip = _write(tmp_path, "probe.wav", siren_scene(seed=5, at_s=1.0, total_s=6.0))

    result = audio_probe.probe_clip(personas["bob"], clip)
    assert result.error == "" and result.segments > 0
    assert "siren" in {e["label"] for e in result.events}, result.events
    assert result.hits and {h["media_id"] for h in result.hits} == {ours.pk}, result.hits
    top = result.hits[0]
    assert top["similarity"] >= audio_probe.audio_events.DEFAULT_MIN_SIMILARITY
    assert top["start_s"] < 8.0 and top["end_s"] > 4.0  # the siren, not the quiet part
    assert top["href"].startswith(f"/media/{ours.pk}/?t=")
    assert any(e["label"] == "siren" for e in top["events"])

    mine = audio_probe.probe_clip(personas["charlie"], clip)
    assert {h["media_id"] for h in mine.hits} == {theirs.pk}

    page = client
    page.force_login(personas["victor"])
    body = page.post("/search/audio/", {"clip": _file("probe.wav", clip.read_bytes())}).content.decode()
    assert "harbour-siren.wav" in body and "their-siren.wav" not in body and f"/media/{ours.pk}/?t=" in body
    assert "No known recording" in body
    body = api("charlie").post("/api/v1/audio/probe/", {"file": _file("p.wav", clip.read_bytes())},
                               format="multipart").json()
    assert [h["media_id"] for h in body["similar_sounds"]] == [theirs.pk] and body["answer"] == "no known recording"
    assert AuditEvent.objects.filter(action="audio.probe_search").count() == 4


def test_probe_filters_narrow_the_search_and_never_widen_it(api, personas, settings, tmp_path, client) -> None:
    _enable(personas, settings)
    ours = _process(api, personas, "alice", "case", "harbour-siren.wav", siren_scene(seed=1, at_s=4.0))
    _process(api, personas, "charlie", "other_case", "their-siren.wav", siren_scene(seed=2, at_s=2.0))
    clip = _write(tmp_path, "probe.wav", siren_scene(seed=5, at_s=1.0, total_s=6.0))
    kinds = ("audio", "video")

    def hits(**query: object) -> set[int]:
        result = audio_probe.probe_clip(personas["bob"], clip, filters=probes.parse_filters(query, kinds))
        assert result.error == "", result.error
        return {h["media_id"] for h in result.hits}

    today = date.today()
    assert hits(case=[str(personas["case"].pk)]) == {ours.pk}
    assert hits(case=[str(personas["other_case"].pk)]) == set()  # a case bob cannot see: nothing, not more
    assert hits(kind=["video"]) == set()
    assert hits(**{"from": (today + timedelta(days=1)).isoformat()}) == set()
    assert hits(to=today.isoformat()) == {ours.pk}  # the "to" day is included
    strict = audio_probe.probe_clip(personas["bob"], clip, filters=probes.parse_filters({"min_score": "0.97"}, kinds))
    assert strict.min_similarity == 0.97 and all(h["similarity"] >= 0.97 for h in strict.hits)

    client.force_login(personas["bob"])
    body = client.post("/search/audio/", {"clip": _file("probe.wav", clip.read_bytes()),
                                          "case": [str(personas["other_case"].pk)]}).content.decode()
    assert "harbour-siren.wav" not in body and "their-siren.wav" not in body
    body = client.post("/search/audio/", {"clip": _file("probe.wav", clip.read_bytes()),
                                          "min_score": "2"}).content.decode()
    assert "min_score: give a number between 0 and 1" in body
    response = api("bob").post("/api/v1/audio/probe/", {"file": _file("p.wav", clip.read_bytes()),
                                                        "case": [personas["case"].pk], "kind": "audio"},
                               format="multipart")
    assert response.status_code == 200 and [h["media_id"] for h in response.json()["similar_sounds"]] == [ours.pk]
    response = api("bob").post("/api/v1/audio/probe/", {"file": _file("p.wav", clip.read_bytes()), "kind": "image"},
                               format="multipart")
    assert response.status_code == 400 and "kind" in response.json()["filters"]


@pytest.mark.parametrize("query, message", [
    ({"case": ["x"]}, "case: give case ids"),
    ({"kind": ["text"]}, "kind: one of image, video"),
    ({"min_score": "nan"}, "min_score"),
    ({"min_score": "-0.1"}, "min_score"),
    ({"from": "27/11/2026"}, "from: give a date like"),
    ({"from": "2026-11-27", "to": "2026-11-01"}, "before the 'from' date"),
])
def test_bad_probe_filters_get_a_message(query: dict, message: str) -> None:
    with pytest.raises(probes.ProbeError, match=message):
        probes.parse_filters(query, ("image", "video"))


# --------------------------------------------------------------------------- fingerprint image


def test_fingerprint_probe_identifies_the_enrolled_subject(api, personas, gallery, tmp_path) -> None:  # noqa: F811
    media_before, findings_before = MediaItem.objects.count(), Finding.objects.count()
    probe = fingerprints.identify_probe(personas["bob"], _write(tmp_path, "mark.png", fp.synthetic(11, 1)),
                                        name="mark.png")
    assert probe.error == "" and probe.result is not None
    result = probe.result
    assert result.decision == "match", [(c.media.original_name, c.score) for c in result.comparisons]
    assert result.best.media == gallery["a0"] and [e.subject for e in result.best.enrolments] == [gallery["anna"]]
    assert result.best.score >= fingerprints.identify_threshold() and result.best.calibrated > 0.99
    assert len(result.best.pairs) >= 4 and result.gallery == 3
    assert result.probe.media is None and result.probe.image_uri.startswith("data:image/png;base64,")
    assert len(result.probe.minutiae) >= 12 and result.probe.name == "mark.png"
    assert (MediaItem.objects.count(), Finding.objects.count()) == (media_before, findings_before)
    audit = AuditEvent.objects.filter(action="fingerprint.probe_identify").get()
    assert audit.details["decision"] == "match" and audit.details["best_media_id"] == gallery["a0"].pk
    assert len(audit.details["probe_sha256"]) == 64

    stranger = fingerprints.identify_probe(personas["alice"], _write(tmp_path, "c.png", fp.synthetic(13, 0)))
    assert stranger.result.decision == "no match" and not stranger.result.best.is_match

    outsider = fingerprints.identify_probe(personas["charlie"], _write(tmp_path, "m2.png", fp.synthetic(11, 1)),
                                           scope="all")
    assert outsider.result.decision == "no match" and outsider.result.comparisons == []
    assert outsider.result.gallery == 0

    yesterday = (date.today() - timedelta(days=1)).isoformat()
    dated = fingerprints.identify_probe(personas["bob"], _write(tmp_path, "m3.png", fp.synthetic(11, 1)),
                                        filters=probes.parse_filters({"to": yesterday}, ("image",)))
    assert dated.result.gallery == 0 and dated.result.comparisons == []
    strict = fingerprints.identify_probe(personas["bob"], _write(tmp_path, "m4.png", fp.synthetic(11, 1)),
                                         filters=probes.parse_filters({"min_score": "0.5"}, ("image",)))
    assert strict.result.comparisons and all(c.calibrated >= 0.5 for c in strict.result.comparisons)
    assert strict.result.best.media == gallery["a0"]

    # The media-based 1:N still works and says the same.
    evidence = _print(api, personas, "a1.png", fp.synthetic(11, 1))
    assert fingerprints.identify(personas["bob"], evidence).best.media == gallery["a0"]


def test_fingerprint_probe_page_and_api(client, api, personas, gallery) -> None:  # noqa: F811
    client.force_login(personas["victor"])
    body = client.post("/search/fingerprint/", {"print": _file("mark.png", fp.synthetic(11, 1)), "dpi": "500",
                                                "scope": "enrolled"}).content.decode()
    assert "Match: Anna Adams" in body and "data:image/png;base64," in body and 'class="fp-pair"' in body
    response = api("alice").post("/api/v1/fingerprints/probe/", {"file": _file("m.png", fp.synthetic(11, 1))},
                                 format="multipart")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["decision"] == "match" and data["candidates"][0]["media"] == gallery["a0"].pk
    assert data["candidates"][0]["subjects"][0]["name"].startswith("Anna Adams")
    assert len(data["probe"]["minutiae"]) >= 12
    response = api("charlie").post("/api/v1/fingerprints/probe/", {"file": _file("m.png", fp.synthetic(11, 1)),
                                                                   "scope": "all"}, format="multipart")
    assert response.status_code == 200 and response.json()["candidates"] == []


# --------------------------------------------------------------------------- bad input


def test_bad_probe_files_get_clear_errors_not_500s(api, personas, client, settings) -> None:
    png = fp.synthetic(11, 0)
    wav = ra.wav(ra.music(3, 3.0))
    cases = [
        ("/api/v1/audio/probe/", "empty.wav", b"", "empty"),
        ("/api/v1/audio/probe/", "junk.mp3", b"\x00\x01garbage" * 200, "not a readable"),
        ("/api/v1/audio/probe/", "print.png", png, "image"),
        ("/api/v1/audio/probe/", "blip.wav", ra.wav(np.zeros(800, np.float32)), "at least"),
        ("/api/v1/fingerprints/probe/", "empty.png", b"", "empty"),
        ("/api/v1/fingerprints/probe/", "broken.png", png[:200], "corrupt"),
        ("/api/v1/fingerprints/probe/", "clip.wav", wav, "audio"),
    ]
    for url, name, data, words in cases:
        response = api("alice").post(url, {"file": _file(name, data)}, format="multipart")
        assert response.status_code == 400, (url, name, response.content)
        assert words in str(response.json()["file"]).lower(), (url, name, response.json())
    assert api("alice").post("/api/v1/audio/probe/", {}, format="multipart").status_code == 400
    response = api("alice").post("/api/v1/fingerprints/probe/", {"file": _file("p.png", png), "dpi": "5"},
                                 format="multipart")
    assert response.status_code == 400 and "dpi" in response.json()
    settings.MMSEC_MAX_PROBE_BYTES = 1000
    response = api("alice").post("/api/v1/audio/probe/", {"file": _file("big.wav", wav)}, format="multipart")
    assert response.status_code == 400 and "limit" in str(response.json())
    response = api("alice").post("/api/v1/fingerprints/probe/", {"file": _file("big.png", png)}, format="multipart")
    assert response.status_code == 400 and "limit" in str(response.json())
    del settings.MMSEC_MAX_PROBE_BYTES

    client.force_login(personas["alice"])
    page = client.post("/search/audio/", {"clip": _file("print.png", png)})
    assert page.status_code == 200 and "cannot be searched" in page.content.decode()
    page = client.post("/search/fingerprint/", {"print": _file("clip.wav", wav)})
    assert page.status_code == 200 and "cannot be searched" in page.content.decode()
    page = client.post("/search/fingerprint/", {"print": _file("p.png", png), "dpi": "lots"}, follow=True)
    assert page.status_code == 200 and "DPI must be a number" in page.content.decode()
    page = client.post("/search/audio/", {}, follow=True)
    assert "Choose an audio clip" in page.content.decode()
    assert AuditEvent.objects.filter(action__in=["audio.probe_search", "fingerprint.probe_identify"]).count() >= 9


def test_anonymous_is_refused(api, client) -> None:
    for url in ("/api/v1/audio/probe/", "/api/v1/fingerprints/probe/"):
        assert api(None).post(url, {"file": _file("a.wav", b"RIFF")}, format="multipart").status_code in (401, 403)
    for url in ("/search/audio/", "/search/fingerprint/"):
        assert client.get(url).status_code == 302
