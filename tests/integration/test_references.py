"""Reference collections: hash store layout, ingest, deletion, snapshot cache, API permissions,
bulk import command, and evidence matching end to end (finding with offsets + recording alert)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from retrieval.models import (
    Alert,
    AuditEvent,
    Finding,
    FingerprintGeneration,
    FingerprintPosting,
    MediaItem,
    PluginConfiguration,
    RecordingStatus,
    ReferenceCollection,
    ReferenceRecording,
)
from retrieval.services import fingerprint_store, plugins, references, watchlists
from tests import reference_audio as ra
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ref_tracks() -> dict[str, np.ndarray]:
    return {"anthem": ra.music(7, 40.0), "jingle": ra.music(8, 25.0)}


def _collection(personas, case_key: str = "case", owner: str = "alice", name: str = "Broadcasts"):
    return references.create_collection(actor=personas[owner], case=personas[case_key], name=name)


def _add(collection, tmp_path: Path, name: str, x: np.ndarray) -> ReferenceRecording:
    path = tmp_path / name
    path.write_bytes(ra.wav(x))
    return references.add_file(actor=None, collection=collection, path=path).recording


def _ingest(collection, tmp_path: Path, tracks: dict[str, np.ndarray]) -> dict[str, ReferenceRecording]:
    recs = {name: _add(collection, tmp_path, f"{name}.wav", x) for name, x in tracks.items()}
    references.ingest_recordings([r.pk for r in recs.values()])
    return {name: ReferenceRecording.objects.get(pk=r.pk) for name, r in recs.items()}


def _postings_of(track_id: int) -> int:
    n = 0
    for row in FingerprintPosting.objects.all():
        pairs = np.frombuffer(bytes(row.postings), "<i4").reshape(-1, 2)
        n += int((pairs[:, 0] == track_id).sum())
    return n


def test_ingest_writes_one_generation_of_packed_sorted_postings(personas, tmp_path, ref_tracks) -> None:
    collection = _collection(personas)
    recs = _ingest(collection, tmp_path, ref_tracks)
    anthem = recs["anthem"]
    assert anthem.status == RecordingStatus.READY and anthem.error == ""
    assert abs(anthem.duration_s - 40.0) < 0.1 and anthem.n_hashes > 40 * 100
    assert anthem.generation == recs["jingle"].generation is not None
    rows = list(FingerprintPosting.objects.filter(gen=anthem.generation))
    assert len(rows) == len({r.hash for r in rows})  # one row per hash value in the generation
    total = 0
    for row in rows:
        pairs = np.frombuffer(bytes(row.postings), "<i4").reshape(-1, 2)
        keys = pairs[:, 0].astype(np.int64) << 32 | pairs[:, 1].astype(np.int64)
        assert np.all(np.diff(keys) >= 0)  # sorted by (track, t)
        total += pairs.shape[0]
    assert total == anthem.n_hashes + recs["jingle"].n_hashes
    assert fingerprint_store.storage_bytes() > 0
    # Ingesting again is a no-op; the same file is not added twice.
    again = references.add_file(actor=None, collection=collection, path=tmp_path / "anthem.wav")
    assert not again.created and again.recording.pk == anthem.pk
    assert references.ingest_recordings([anthem.pk]) == {"ready": 0, "failed": 0}


def test_snapshot_is_cached_until_the_store_changes(personas, tmp_path, ref_tracks) -> None:
    collection = _collection(personas)
    recs = _ingest(collection, tmp_path, {"anthem": ref_tracks["anthem"]})
    mv = recs["anthem"].model_version
    index = fingerprint_store.snapshot(mv)
    builds = fingerprint_store.snapshot_builds()
    assert fingerprint_store.snapshot(mv) is index and fingerprint_store.snapshot_builds() == builds
    assert list(index.track_ids) == [recs["anthem"].pk] and index.n_postings == recs["anthem"].n_hashes
    more = _ingest(collection, tmp_path, {"jingle": ref_tracks["jingle"]})
    index2 = fingerprint_store.snapshot(mv)
    assert fingerprint_store.snapshot_builds() == builds + 1
    assert sorted(index2.track_ids) == sorted([recs["anthem"].pk, more["jingle"].pk])
    # The snapshot equals an index built directly from the fingerprints.
    plugin = references._plugin()
    fp = plugin.fingerprint_full(tmp_path / "anthem.wav", reference=True)
    hi, tr, t = index2.lookup(fp.hashes[:200])
    assert set(tr[tr == recs["anthem"].pk].tolist()) == {recs["anthem"].pk}
    own = tr == recs["anthem"].pk
    assert set(zip(hi[own].tolist(), t[own].tolist(), strict=True)) >= {(i, int(fp.frames[i])) for i in range(200)}


def _csr_by_rows(mv: str) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """The snapshot as the stored rows define it, the slow obvious way: (hash, global frame) pairs, bases."""
    ready = list(ReferenceRecording.objects.filter(status=RecordingStatus.READY, model_version=mv,
                                                   generation__isnull=False).order_by("pk"))
    base, bases = fingerprint_store.TRACK_GAP_FRAMES, {}
    for r in ready:
        bases[r.pk] = base
        base += r.n_frames + fingerprint_store.TRACK_GAP_FRAMES
    gens = {r.generation for r in ready}
    pairs = []
    for row in FingerprintPosting.objects.filter(gen__in=gens):
        for track, t in np.frombuffer(bytes(row.postings), "<i4").reshape(-1, 2).tolist():
            if track in bases:
                pairs.append((row.hash, bases[track] + t))
    arr = np.asarray(sorted(pairs), np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1], bases


def test_snapshot_holds_exactly_the_ready_recordings_postings(personas, tmp_path, ref_tracks) -> None:
    collection = _collection(personas)
    anthem = _ingest(collection, tmp_path, {"anthem": ref_tracks["anthem"]})["anthem"]
    recs = _ingest(collection, tmp_path, {"jingle": ref_tracks["jingle"], "short": ra.music(9, 6.0)})
    references.delete_recording(actor=personas["alice"], recording=recs["short"])  # tombstoned, not compacted
    assert FingerprintGeneration.objects.count() == 2
    index = fingerprint_store.build_snapshot(anthem.model_version)
    hashes, frames, bases = _csr_by_rows(anthem.model_version)
    assert list(index.track_ids) == sorted([anthem.pk, recs["jingle"].pk]) == sorted(bases)
    assert [int(b) for b in index.bases] == [bases[t] for t in index.track_ids.tolist()]
    got_hashes = np.repeat(np.arange(index.offsets.size - 1), np.diff(index.offsets))
    order = np.lexsort((index.postings, got_hashes))
    assert np.array_equal(got_hashes[order], hashes) and np.array_equal(index.postings[order], frames)
    assert index.n_postings == anthem.n_hashes + recs["jingle"].n_hashes


def test_deleting_a_recording_and_a_collection_removes_their_hashes(personas, tmp_path, ref_tracks) -> None:
    collection = _collection(personas)
    recs = _ingest(collection, tmp_path, ref_tracks)
    anthem, jingle = recs["anthem"], recs["jingle"]
    assert _postings_of(anthem.pk) == anthem.n_hashes
    references.delete_recording(actor=personas["bob"], recording=anthem)
    assert list(fingerprint_store.snapshot(jingle.model_version).track_ids) == [jingle.pk]  # gone at once
    fingerprint_store.compact([jingle.generation])  # what the queued task does
    assert _postings_of(anthem.pk) == 0 and _postings_of(jingle.pk) == jingle.n_hashes
    jingle.refresh_from_db()
    assert jingle.generation is not None
    with pytest.raises(Exception, match="does not allow"):
        references.delete_collection(actor=personas["victor"], collection=collection)
    references.delete_collection(actor=personas["alice"], collection=collection)
    fingerprint_store.compact()
    assert FingerprintPosting.objects.count() == 0
    assert fingerprint_store.snapshot(jingle.model_version).track_ids.size == 0
    assert AuditEvent.objects.filter(action="reference_recording.delete").exists()
    assert AuditEvent.objects.filter(action="reference_collection.delete").exists()


def test_maintenance_merges_small_generations_and_requeues_lost_recordings(personas, tmp_path, ref_tracks) -> None:
    collection = _collection(personas)
    anthem = _ingest(collection, tmp_path, {"anthem": ref_tracks["anthem"]})["anthem"]
    jingle = _ingest(collection, tmp_path, {"jingle": ref_tracks["jingle"]})["jingle"]
    assert FingerprintGeneration.objects.count() == 2
    rows = FingerprintPosting.objects.count()
    stuck = _add(collection, tmp_path, "stuck.wav", ra.music(9, 5.0))  # its Celery message was lost
    result = references.maintain(stale_after_s=0)
    assert result["requeued"] == 1 and result["compacted_into"] > 0
    [gen] = FingerprintGeneration.objects.all()
    assert gen.n_tracks == 2 and gen.n_postings == anthem.n_hashes + jingle.n_hashes
    assert FingerprintPosting.objects.count() < rows  # shared hash values now share a row
    assert _postings_of(anthem.pk) == anthem.n_hashes and _postings_of(jingle.pk) == jingle.n_hashes
    assert sorted(fingerprint_store.snapshot(anthem.model_version).track_ids) == sorted([anthem.pk, jingle.pk])
    assert references.maintain(stale_after_s=3600) == {"compacted_into": 0, "requeued": 0}
    assert ReferenceRecording.objects.get(pk=stuck.pk).status == RecordingStatus.PENDING


def test_api_upload_list_delete_and_permissions(api, personas, tmp_path, ref_tracks) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = api("bob").post("/api/v1/reference-collections/", {"case": personas["case"].pk, "name": "Calls"},
                        format="json")
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    assert api("victor").post("/api/v1/reference-collections/", {"case": personas["case"].pk, "name": "X"},
                              format="json").status_code == 403
    data = ra.wav(ref_tracks["jingle"])
    url = f"/api/v1/reference-collections/{cid}/recordings/"
    r = api("bob").post(url, {"file": SimpleUploadedFile("jingle.wav", data)}, format="multipart")
    assert r.status_code == 201, r.content
    [res] = r.json()
    assert res["created"] and res["recording"]["status"] == "pending"
    rid = res["recording"]["id"]
    r = api("alice").post(url, {"file": SimpleUploadedFile("copy.wav", data)}, format="multipart")
    assert r.status_code == 201 and not r.json()[0]["created"] and r.json()[0]["recording"]["id"] == rid
    assert api("victor").post(url, {"file": SimpleUploadedFile("v.wav", data)},
                              format="multipart").status_code == 403
    references.ingest_recordings([rid])  # what the queued Celery task does
    r = api("victor").get(f"/api/v1/reference-recordings/?collection={cid}")
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "ready"
    assert api("victor").get(url).json()["results"][0]["n_hashes"] > 0
    # Outsiders: 404 everywhere, empty lists.
    charlie = api("charlie")
    assert charlie.get(f"/api/v1/reference-collections/{cid}/").status_code == 404
    assert charlie.get(url).status_code == 404
    assert charlie.post(url, {"file": SimpleUploadedFile("c.wav", data)}, format="multipart").status_code == 404
    assert charlie.get(f"/api/v1/reference-recordings/{rid}/").status_code == 404
    assert charlie.delete(f"/api/v1/reference-recordings/{rid}/").status_code == 404
    assert charlie.get("/api/v1/reference-collections/").json()["results"] == []
    assert api("victor").delete(f"/api/v1/reference-recordings/{rid}/").status_code == 403
    assert api("bob").delete(f"/api/v1/reference-recordings/{rid}/").status_code == 204
    assert not ReferenceRecording.objects.filter(pk=rid).exists()
    assert api("alice").delete(f"/api/v1/reference-collections/{cid}/").status_code == 204
    assert not ReferenceCollection.objects.filter(pk=cid).exists()


def test_pages_list_and_show_collections_to_members_only(client, personas, tmp_path, ref_tracks) -> None:
    collection = _collection(personas)
    rec = _add(collection, tmp_path, "jingle.wav", ref_tracks["jingle"])
    client.force_login(personas["victor"])
    page = client.get("/references/").content.decode()
    assert "Broadcasts" in page and "Create collection" not in page
    page = client.get(f"/references/{collection.pk}/").content.decode()
    assert "jingle.wav" in page and "ref-dropzone" not in page
    assert client.get(f"/references/recordings/{rec.pk}/file/").status_code == 200
    client.force_login(personas["charlie"])
    assert client.get(f"/references/{collection.pk}/").status_code == 404
    assert client.get(f"/references/recordings/{rec.pk}/file/").status_code == 404
    assert "Broadcasts" not in client.get("/references/").content.decode()
    client.force_login(personas["bob"])
    page = client.get(f"/references/{collection.pk}/").content.decode()
    assert "ref-dropzone" in page
    r = client.post("/references/", {"case": personas["case"].pk, "name": "Ransom calls"})
    assert r.status_code == 302 and ReferenceCollection.objects.filter(name="Ransom calls").exists()
    r = client.post(f"/references/{collection.pk}/", {"action": "delete-recording", "recording": rec.pk})
    assert r.status_code == 302 and not ReferenceRecording.objects.filter(pk=rec.pk).exists()


def test_import_references_command_skips_present_files_and_reports_bad_ones(personas, tmp_path, ref_tracks,
                                                                            capsys) -> None:
    collection = _collection(personas, name="Imported")
    folder = tmp_path / "refs"
    (folder / "sub").mkdir(parents=True)
    (folder / "anthem.wav").write_bytes(ra.wav(ref_tracks["anthem"]))
    (folder / "sub" / "jingle.wav").write_bytes(ra.wav(ref_tracks["jingle"]))
    (folder / "broken.mp3").write_bytes(b"ID3\x03\x00garbage" * 50)
    (folder / "silence.wav").write_bytes(ra.wav(np.zeros(ra.SR * 3, np.float32)))
    (folder / "notes.txt").write_text("not audio")
    with pytest.raises(CommandError, match="2 file"):
        call_command("import_references", str(collection.pk), str(folder))
    out = capsys.readouterr().out
    assert "added 2, already present 0, failed 2, ignored 1" in out
    assert "FAILED" in out and "broken.mp3" in out and "silence.wav: no landmarks" in out
    assert collection.recordings.filter(status=RecordingStatus.READY).count() == 2
    call_command("import_references", "Imported", str(folder / "sub"))
    assert "added 0, already present 1, failed 0" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no reference collection"):
        call_command("import_references", "Nope", str(folder))


def _enable_fingerprint(personas) -> None:
    config = PluginConfiguration.objects.get(name="audio_fingerprint")
    plugins.update_configuration(actor=personas["staff"], config=config, enabled=True)


def _evidence(api, personas, name: str, x: np.ndarray, who: str = "alice", case_key: str = "case") -> MediaItem:
    r = upload(api(who), personas[case_key].pk, name, ra.wav(x))
    assert r.status_code == 201, r.content
    return process_inline(r.json()[0]["media"]["id"])


def test_evidence_with_a_noisy_excerpt_gets_an_occurrence_and_an_alert(api, client, personas, tmp_path,
                                                                      ref_tracks) -> None:
    _enable_fingerprint(personas)
    collection = _collection(personas)
    recs = _ingest(collection, tmp_path, ref_tracks)
    anthem = recs["anthem"]
    wl = watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Known broadcasts",
                                     kind="recording")
    references.watch_collection(actor=personas["alice"], collection=collection, watchlist=wl)

    evidence = ra.noisy_evidence(ref_tracks["anthem"], ref_start_s=12.0, at_s=11.0, snr_db=5.0)
    media = _evidence(api, personas, "phone.wav", evidence)
    assert media.status == "ready", media.error
    [occ] = Finding.objects.filter(media=media, plugin="audio_fingerprint", label__startswith="reference:")
    assert occ.label == f"reference:{anthem.pk}"
    assert occ.score >= 0.995
    ref0, ref1 = occ.data["reference_start_s"], occ.data["reference_end_s"]
    assert abs((ref0 - occ.start_s) - 1.0) <= 0.1  # alignment: reference time - evidence time = 12 - 11
    assert abs(occ.start_s - 11.0) <= 0.1 and 15.0 <= occ.end_s <= 16.0 + 0.1
    assert abs((ref1 - ref0) - (occ.end_s - occ.start_s)) < 0.01

    [alert] = Alert.objects.filter(watchlist=wl, media=media)
    assert alert.finding_id == occ.pk and alert.score == pytest.approx(occ.score)
    assert alert.start_s == occ.start_s and alert.end_s == occ.end_s
    assert alert.details["reference_start_s"] == ref0 and alert.details["recording"] == "anthem.wav"
    assert "anthem.wav" in alert.summary

    # The media page: timeline row and matches panel.
    client.force_login(personas["victor"])
    page = client.get(f"/media/{media.pk}/").content.decode()
    assert "Recording matches" in page and "Known recordings in this item" in page
    assert f"#rec-{anthem.pk}" in page and "ref-mark" in page

    # Unknown audio: no occurrence, no alert.
    other = _evidence(api, personas, "unknown.wav", ra.unknown())
    assert other.status == "ready"
    assert not Finding.objects.filter(media=other, label__startswith="reference:").exists()
    assert not Alert.objects.filter(media=other).exists()


def test_evidence_is_not_matched_against_another_case_collection(api, personas, tmp_path, ref_tracks) -> None:
    _enable_fingerprint(personas)
    theirs = _collection(personas, case_key="other_case", owner="charlie", name="Their refs")
    _ingest(theirs, tmp_path, {"anthem": ref_tracks["anthem"]})
    evidence = ra.noisy_evidence(ref_tracks["anthem"], ref_start_s=5.0, at_s=3.0, seconds=12.0, snr_db=5.0)
    media = _evidence(api, personas, "call.wav", evidence)
    assert not Finding.objects.filter(media=media, label__startswith="reference:").exists()
    # The same recording in charlie's own case is found.
    mine = _evidence(api, personas, "call.wav", evidence, who="charlie", case_key="other_case")
    assert Finding.objects.filter(media=mine, label__startswith="reference:").count() == 1


def test_a_watchlist_brings_its_case_collection_to_a_watched_case_and_others_see_it_anonymised(
        api, client, personas, tmp_path, ref_tracks) -> None:
    from retrieval.services import cases

    _enable_fingerprint(personas)
    intel = cases.create_case(actor=personas["alice"], title="Intelligence")  # bob and victor are not members
    collection = _collection(personas, case_key="case", name="unused")  # the evidence case's own: empty
    secret = references.create_collection(actor=personas["alice"], case=intel, name="Secret broadcasts")
    anthem = _ingest(secret, tmp_path, ref_tracks)["anthem"]
    wl = watchlists.create_watchlist(actor=personas["alice"], case=intel, name="Broadcast watch", kind="recording",
                                     watched_case_ids=[personas["case"].pk])
    references.watch_collection(actor=personas["alice"], collection=secret, watchlist=wl)
    with pytest.raises(Exception, match="same case"):
        references.watch_collection(actor=personas["alice"], collection=collection, watchlist=wl)
    evidence = ra.noisy_evidence(ref_tracks["anthem"], ref_start_s=20.0, at_s=4.0, seconds=15.0, snr_db=5.0)
    media = _evidence(api, personas, "intercept.wav", evidence, who="bob")
    [occ] = Finding.objects.filter(media=media, label__startswith="reference:")
    assert occ.label == f"reference:{anthem.pk}"
    [alert] = Alert.objects.filter(watchlist=wl, media=media)
    assert list(Alert.objects.visible_to(personas["alice"])) == [alert]
    assert not Alert.objects.visible_to(personas["bob"]).exists()
    client.force_login(personas["bob"])
    page = client.get(f"/media/{media.pk}/").content.decode()
    assert "another case" in page and "anthem.wav" not in page and "Secret broadcasts" not in page
    client.force_login(personas["alice"])
    page = client.get(f"/media/{media.pk}/").content.decode()
    assert "anthem.wav" in page and "Secret broadcasts" in page


def test_a_cut_reference_is_fingerprinted_as_far_as_it_goes_and_says_so(api, client, personas, tmp_path,
                                                                        ref_tracks) -> None:
    """A reference FLAC cut in half (its header states 40 s): ready with the part that decodes, and the
    recording, the API and the collection page say the rest cannot be matched; an intact one has no warning."""
    import io

    import soundfile as sf

    collection = _collection(personas)
    out = io.BytesIO()
    sf.write(out, ref_tracks["anthem"], ra.SR, format="FLAC")
    whole = out.getvalue()
    (tmp_path / "cut.flac").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "whole.flac").write_bytes(whole)
    cut = references.add_file(actor=None, collection=collection, path=tmp_path / "cut.flac").recording
    intact = references.add_file(actor=None, collection=collection, path=tmp_path / "whole.flac").recording
    assert references.ingest_recordings([cut.pk, intact.pk]) == {"ready": 2, "failed": 0}
    cut.refresh_from_db()
    intact.refresh_from_db()
    assert intact.warning == "" and abs(intact.duration_s - 40.0) < 0.1
    assert cut.status == RecordingStatus.READY and cut.duration_s < 30.0
    assert "of the 40.0 s of audio this file declares could be decoded" in cut.warning
    rows = api("alice").get(f"/api/v1/reference-recordings/?collection={collection.pk}").json()["results"]
    assert {r["id"]: r["warning"] for r in rows} == {cut.pk: cut.warning, intact.pk: ""}
    client.force_login(personas["alice"])
    page = client.get(f"/references/{collection.pk}/").content.decode()
    assert "Partly fingerprinted:" in page
