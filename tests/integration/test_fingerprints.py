"""Fingerprints on the platform, end to end with the real plugin (NBIS MINDTCT + MCC) run by the job pipeline:
subjects and enrolment (quality refusal), 1:N identification (pgvector candidates + MCC re-ranking, visible
cases only, explicit "no match"), 1:1 verification, per-item DPI with reprocessing, ISO/IEC 19794-2 export,
the fingerprint watchlist matcher, pages and API, and the outsider / viewer rules."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from retrieval.models import Alert, AuditEvent, Enrolment, Finding, MediaItem, PluginConfiguration, Subject
from retrieval.services import fingerprints, plugins, watchlists
from tests import fingerprint_samples as fp
from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def fp_plugin(personas, settings) -> PluginConfiguration:
    settings.MMSEC_MODEL_DIR = fp.model_root()
    plugins.sync_plugins()
    config = PluginConfiguration.objects.get(name="fingerprint")
    assert config.installed, config.load_error
    plugins.update_configuration(actor=personas["staff"], config=config, enabled=True)
    return config


def _print(api, personas, name: str, data: bytes, who: str = "alice", case: str = "case") -> MediaItem:
    response = upload(api(who), personas[case].pk, name, data)
    assert response.status_code == 201, response.content
    return process_inline(response.json()[0]["media"]["id"])


def _subject(personas, name: str, reference: str = "") -> Subject:
    return fingerprints.create_subject(actor=personas["alice"], case=personas["case"], name=name, reference=reference)


@pytest.fixture
def gallery(api, personas, fp_plugin) -> dict[str, object]:
    """Two subjects with enrolled fingers (synthetic A right thumb, real p1 left index) and a third print."""
    a0 = _print(api, personas, "a0.png", fp.synthetic(11, 0))
    b0 = _print(api, personas, "b0.png", fp.synthetic(12, 0))
    p11 = _print(api, personas, "p1_1.png", fp.real("p1_1"))
    anna, ben = _subject(personas, "Anna Adams", "BK-1"), _subject(personas, "Ben Brown", "BK-2")
    fingerprints.enrol(actor=personas["alice"], subject=anna, finger=1, media=a0)
    fingerprints.enrol(actor=personas["bob"], subject=ben, finger=1, media=b0)
    fingerprints.enrol(actor=personas["alice"], subject=ben, finger=7, media=p11)
    return {"a0": a0, "b0": b0, "p11": p11, "anna": anna, "ben": ben}


def test_processed_print_has_minutiae_quality_and_index_vector(gallery) -> None:
    finding = fingerprints.print_finding(gallery["a0"])
    assert finding is not None and finding.space.name == "fp_index" and finding.vector is not None
    view = fingerprints.print_view(gallery["a0"], finding)
    assert 20 <= view.quality <= 100 and len(view.minutiae) >= 12 and view.dpi == 500.0
    assert all(0 <= m.x <= view.width and 0 <= m.y <= view.height for m in view.minutiae)
    e = Enrolment.objects.get(subject=gallery["anna"], finger=1)
    assert e.quality == round(view.quality) and e.minutiae == len(view.minutiae)


def test_identify_finds_the_subject_and_says_no_match_for_an_unknown_finger(api, personas, gallery) -> None:
    probe = _print(api, personas, "a1.png", fp.synthetic(11, 1))
    result = fingerprints.identify(personas["bob"], probe)
    assert result.decision == "match", [(c.media.original_name, c.score) for c in result.comparisons]
    best = result.best
    assert best.media == gallery["a0"] and [e.subject for e in best.enrolments] == [gallery["anna"]]
    assert best.score >= fingerprints.identify_threshold() and 0.99 < best.calibrated <= 1.0
    assert len(best.pairs) >= 4 and best.view is not None
    assert result.gallery == 3 and result.candidates == 3  # only enrolled prints, never the probe itself

    real = _print(api, personas, "p1_2.png", fp.real("p1_2"))
    result = fingerprints.identify(personas["alice"], real)
    assert result.decision == "match" and result.best.media == gallery["p11"]
    assert result.best.enrolments[0].get_finger_display() == "Left index"

    stranger = _print(api, personas, "c0.png", fp.synthetic(13, 0))
    result = fingerprints.identify(personas["alice"], stranger)
    assert result.decision == "no match" and result.best is not None and not result.best.is_match
    audit = AuditEvent.objects.filter(action="fingerprint.identify", target_id=str(stranger.pk)).get()
    assert audit.details["decision"] == "no match"

    everything = fingerprints.identify(personas["alice"], probe, scope="all")  # unenrolled prints too
    assert everything.gallery == 5 and everything.best.media == gallery["a0"]


def test_rerank_depth_is_the_same_for_every_gallery_and_an_explicit_k_wins(api, personas, gallery,
                                                                          monkeypatch) -> None:
    """RERANK_DEPTH (500, measured on bench/fingerprint.py's synthetic galleries) candidates are re-ranked whatever
    the size of the searched gallery; shrunk here so that a 3- and a 5-print gallery show the cut."""
    assert fingerprints.RERANK_DEPTH == 500
    probe = _print(api, personas, "a1.png", fp.synthetic(11, 1))
    for seed in (13, 14):  # unenrolled prints: only scope="all" searches them
        _print(api, personas, f"c{seed}.png", fp.synthetic(seed, 0))
    monkeypatch.setattr(fingerprints, "RERANK_DEPTH", 2)
    enrolled = fingerprints.identify(personas["bob"], probe)
    assert enrolled.gallery == 3 and enrolled.candidates == 2 and enrolled.best.media == gallery["a0"]
    everything = fingerprints.identify(personas["bob"], probe, scope="all")
    assert everything.gallery == 5 and everything.candidates == 2 and everything.best.media == gallery["a0"]
    assert fingerprints.identify(personas["bob"], probe, scope="all", k=3).candidates == 3  # an explicit k wins


def test_candidates_are_ordered_by_the_matcher_score_plus_a_little_of_the_code_similarity(
        api, personas, gallery, monkeypatch) -> None:
    """Identification lists candidates by ``matching.rank_score`` (MCC score + weight x code cosine) while the
    decision stays on the MCC score: with the weight at 0 the order is the MCC order, with a huge weight it is the
    candidate stage's order, and the same best print is a match either way only if its MCC score reaches the
    threshold."""
    from plugins.fingerprint import matching

    probe = _print(api, personas, "a1.png", fp.synthetic(11, 1))
    for weight in (0.0, matching.CODE_SIMILARITY_WEIGHT, 1000.0):
        monkeypatch.setattr(matching, "CODE_SIMILARITY_WEIGHT", weight)
        result = fingerprints.identify(personas["bob"], probe)
        ranked = [(c.score + weight * c.similarity) for c in result.comparisons]
        assert len(ranked) == 3 and ranked == sorted(ranked, reverse=True), weight
        assert all(c.rank_score == pytest.approx(r) for c, r in zip(result.comparisons, ranked, strict=True))
        assert result.best.media == gallery["a0"]  # the mate: best by both the matcher and the code
        assert result.best.is_match == (result.best.score >= fingerprints.identify_threshold())
    by_code = [c.similarity for c in result.comparisons]
    assert by_code == sorted(by_code, reverse=True)
    monkeypatch.setattr(matching, "CODE_SIMILARITY_WEIGHT", 0.0)
    by_score = [c.score for c in fingerprints.identify(personas["bob"], probe).comparisons]
    assert by_score == sorted(by_score, reverse=True)


def test_candidates_take_the_best_of_the_full_code_and_the_print_windows(personas, gallery) -> None:
    """A partial probe that looks like one part of an enrolled print reaches it through that print's window
    vectors (space ``fp_window``), which are bare vectors: never counted or listed as detections."""
    import numpy as np

    from retrieval.services import case_stats, search

    a0 = gallery["a0"]
    full = fingerprints.print_finding(a0)
    windows = list(Finding.objects.filter(media=a0, space__name="fp_window").order_by("id"))
    assert 1 <= len(windows) <= 5 and all(w.label == "" and w.space.model_version == full.space.model_version
                                          for w in windows)
    part = np.asarray(windows[0].vector, dtype=np.float32)
    assert float(part @ np.asarray(full.vector, dtype=np.float32)) < 0.99
    probe = Finding(plugin="fingerprint", label="fingerprint", data=full.data, vector=part.tolist())
    ranked = fingerprints._rank(personas["alice"], search.active_space("fingerprint", "fp_index"), probe,
                                scope="enrolled", k=10)
    sims = {c.media.pk: c.similarity for c in ranked.comparisons}
    assert sims[a0.pk] > 0.999 and max(v for m, v in sims.items() if m != a0.pk) < 0.99
    assert case_stats.detections_by_media(media_id=a0.pk) == {a0.pk: {"fingerprint": 1}}
    # another case's member sees none of these prints, windows included
    assert fingerprints._rank(personas["charlie"], search.active_space("fingerprint", "fp_index"), probe,
                              scope="all", k=10).comparisons == []


def test_identify_only_searches_cases_the_user_belongs_to(api, personas, gallery) -> None:
    theirs = _print(api, personas, "a2.png", fp.synthetic(11, 2), who="charlie", case="other_case")
    result = fingerprints.identify(personas["charlie"], theirs)
    assert result.decision == "no match" and result.comparisons == [] and result.gallery == 0
    result = fingerprints.identify(personas["charlie"], theirs, scope="all")
    assert all(c.media.case_id == personas["other_case"].pk for c in result.comparisons)
    response = api("charlie").post("/api/v1/fingerprints/identify/", {"media": gallery["a0"].pk}, format="json")
    assert response.status_code == 404


def test_verify_one_to_one(api, personas, gallery) -> None:
    probe = _print(api, personas, "a1.png", fp.synthetic(11, 1))
    ok = fingerprints.verify(personas["victor"], probe, gallery["anna"])
    assert ok.decision == "match" and ok.best.enrolments[0].finger == 1 and ok.best.pairs
    wrong = fingerprints.verify(personas["victor"], probe, gallery["ben"])
    assert wrong.decision == "no match" and len(wrong.comparisons) == 2
    assert all(c.score < fingerprints.match_threshold() for c in wrong.comparisons)
    with pytest.raises(ValidationError, match="no enrolled right index"):
        fingerprints.verify(personas["victor"], probe, gallery["anna"], finger=2)
    response = api("victor").post("/api/v1/fingerprints/verify/",
                                  {"media": probe.pk, "subject": gallery["ben"].pk, "finger": 7}, format="json")
    assert response.status_code == 200 and response.json()["decision"] == "no match"
    assert [c["subjects"][0]["finger_name"] for c in response.json()["comparisons"]] == ["Left index"]
    response = api("charlie").post("/api/v1/fingerprints/verify/", {"media": probe.pk,
                                   "subject": gallery["anna"].pk}, format="json")
    assert response.status_code == 404


def test_enrolment_rules(api, personas, fp_plugin, settings) -> None:
    anna = _subject(personas, "Anna Adams")
    settings.MMSEC_FP_ENROL_MIN_QUALITY = 45
    poor = _print(api, personas, "poor.png", fp.degraded(11))
    with pytest.raises(ValidationError, match=r"print quality \d+/100 is below the enrolment minimum"):
        fingerprints.enrol(actor=personas["alice"], subject=anna, finger=2, media=poor)
    photo = _print(api, personas, "photo.png", samples.png_bytes(320, 200))
    with pytest.raises(ValidationError, match=r"not been processed as a fingerprint \((not a )?fingerprint"):
        fingerprints.enrol(actor=personas["alice"], subject=anna, finger=2, media=photo)
    good = _print(api, personas, "a0.png", fp.synthetic(11, 0))
    with pytest.raises(PermissionDenied):
        fingerprints.enrol(actor=personas["victor"], subject=anna, finger=2, media=good)
    fingerprints.enrol(actor=personas["alice"], subject=anna, finger=2, media=good)
    with pytest.raises(ValidationError, match="already enrolled"):
        fingerprints.enrol(actor=personas["alice"], subject=anna, finger=2, media=good)
    with pytest.raises(ValidationError, match="already enrolled as another finger"):
        fingerprints.enrol(actor=personas["alice"], subject=anna, finger=3, media=good)
    # API: the refusal reason comes back as a 400; outsiders get 404, viewers 403
    response = api("bob").post(f"/api/v1/subjects/{anna.pk}/enrolments/", {"finger": 4, "media": poor.pk},
                               format="json")
    assert response.status_code == 400 and "below the enrolment minimum" in response.json()["detail"]
    assert api("victor").post(f"/api/v1/subjects/{anna.pk}/enrolments/", {"finger": 4, "media": poor.pk},
                              format="json").status_code == 403
    assert api("charlie").get(f"/api/v1/subjects/{anna.pk}/").status_code == 404
    theirs = _print(api, personas, "theirs.png", fp.synthetic(12, 0), who="charlie", case="other_case")
    response = api("alice").post(f"/api/v1/subjects/{anna.pk}/enrolments/", {"finger": 4, "media": theirs.pk},
                                 format="json")
    assert response.status_code == 400
    assert api("alice").post(f"/api/v1/subjects/{anna.pk}/unenrol/", {"finger": 2},
                             format="json").status_code == 204
    assert not anna.enrolments.exists()
    assert {"subject.create", "subject.enrol", "subject.unenrol"} <= set(
        AuditEvent.objects.filter(target_type="subject").values_list("action", flat=True))


def test_subject_api_crud_and_validation(api, personas) -> None:
    case = personas["case"].pk
    response = api("bob").post("/api/v1/subjects/", {"case": case, "name": "Cara", "reference": "BK-9"},
                               format="json")
    assert response.status_code == 201, response.content
    sid = response.json()["id"]
    assert api("bob").post("/api/v1/subjects/", {"case": case, "name": "Dup", "reference": "BK-9"},
                           format="json").status_code == 400
    assert api("bob").post("/api/v1/subjects/", {"case": case}, format="json").status_code == 400
    assert api("victor").post("/api/v1/subjects/", {"case": case, "name": "X"}, format="json").status_code == 403
    assert api("charlie").post("/api/v1/subjects/", {"case": case, "name": "X"}, format="json").status_code == 400
    assert api("bob").patch(f"/api/v1/subjects/{sid}/", {"notes": "tattoo"}, format="json").json()["notes"] == "tattoo"
    assert [s["id"] for s in api("victor").get(f"/api/v1/subjects/?case={case}").json()["results"]] == [sid]
    assert api("charlie").get("/api/v1/subjects/").json()["results"] == []
    assert api("charlie").delete(f"/api/v1/subjects/{sid}/").status_code == 404
    assert api("alice").delete(f"/api/v1/subjects/{sid}/").status_code == 204


def test_user_dpi_is_passed_to_the_plugin_and_reprocesses(api, personas, fp_plugin) -> None:
    # a 750 dpi rescan without DPI metadata: the plugin estimates it; the investigator then states it
    media = _print(api, personas, "rescan.png", fp.synthetic(11, 0, dpi=None, scale=1.5))
    before = fingerprints.print_finding(media)
    assert before is not None and before.data["dpi_source"] == "ridge_period"
    assert api("victor").post(f"/api/v1/fingerprints/{media.pk}/dpi/", {"dpi": 750},
                              format="json").status_code == 403
    response = api("bob").post(f"/api/v1/fingerprints/{media.pk}/dpi/", {"dpi": 750}, format="json")
    assert response.status_code == 202 and response.json()["user_dpi"] == 750.0 and response.json()["reprocessing"]
    assert media.jobs.get(step__startswith="plugin:fingerprint@").state == "queued"
    media = process_inline(media.pk)
    after = fingerprints.print_finding(media)
    assert after.data["dpi_source"] == "user" and after.data["dpi"] == 750.0
    assert plugins.user_dpi(media) == 750.0
    assert api("bob").post(f"/api/v1/fingerprints/{media.pk}/dpi/", {"dpi": 5},
                           format="json").status_code == 400
    # the stated DPI makes the rescan match the 500 dpi impression of the same finger
    plain = _print(api, personas, "a1.png", fp.synthetic(11, 1))
    from plugins.fingerprint.matching import match

    assert match(after.data, fingerprints.print_finding(plain).data) >= fingerprints.match_threshold()
    body = api("victor").get(f"/api/v1/fingerprints/{media.pk}/").json()
    assert body["dpi_source"] == "user" and body["user_dpi"] == 750.0 and len(body["minutiae"]) >= 12
    assert AuditEvent.objects.filter(action="fingerprint.set_dpi", target_id=str(media.pk)).exists()


def test_iso_template_export(client, api, personas, gallery) -> None:
    from plugins.fingerprint.template import from_iso19794_2

    client.force_login(personas["victor"])
    response = client.get(f"/media/{gallery['p11'].pk}/fingerprint/template/")
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.iso-19794-2.fmr"')
    record = response.content
    assert record[:8] == b"FMR\x00 20\x00" and record[24] == 7  # finger position: left index (enrolled)
    template = from_iso19794_2(record)
    assert template.n == len(fingerprints.print_finding(gallery["p11"]).data["minutiae"])
    event = AuditEvent.objects.filter(action="fingerprint.template_export").latest("id")
    assert event.actor_name == "victor" and event.details["finger_position"] == 7
    assert api("alice").get(f"/api/v1/fingerprints/{gallery['a0'].pk}/template/").content[:4] == b"FMR\x00"
    client.force_login(personas["charlie"])
    assert client.get(f"/media/{gallery['p11'].pk}/fingerprint/template/").status_code == 404


def test_watchlist_alert_for_a_new_print_of_a_listed_subject(api, personas, gallery) -> None:
    wl = watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Wanted",
                                     kind="fingerprint")
    response = api("bob").post(f"/api/v1/subjects/{gallery['anna'].pk}/watch/", {"watchlist": wl.pk},
                               format="json")
    assert response.status_code == 201, response.content
    entry = wl.entries.get()
    assert entry.data == {"subject_id": gallery["anna"].pk} and list(entry.media.all()) == [gallery["a0"]]
    assert api("bob").post(f"/api/v1/subjects/{gallery['anna'].pk}/watch/", {"watchlist": wl.pk},
                           format="json").status_code == 400  # already on it

    stranger = _print(api, personas, "c0.png", fp.synthetic(13, 0))
    assert not Alert.objects.filter(media=stranger).exists()
    hit = _print(api, personas, "a2.png", fp.synthetic(11, 2))
    alert = Alert.objects.get(media=hit)
    assert alert.watchlist == wl and alert.entry == entry and alert.plugin == "fingerprint"
    assert alert.score >= watchlists.threshold_of(wl) and alert.score <= 1.0
    assert alert.details["subject_id"] == gallery["anna"].pk and alert.details["finger_name"] == "Right thumb"
    assert "Anna Adams" in alert.summary and alert.finding.media == hit
    # re-running the job raises no second alert
    plugins.start_reprocess(actor=personas["staff"], plugin="fingerprint", version=fp_version(), case=personas["case"])
    process_inline(hit.pk)
    assert Alert.objects.filter(media=hit).count() == 1


def fp_version() -> str:
    return Finding.objects.filter(plugin="fingerprint").values_list("model_version", flat=True).first()


def test_watchlist_ignores_subjects_of_other_cases(api, personas, gallery) -> None:
    charlie_wl = watchlists.create_watchlist(actor=personas["charlie"], case=personas["other_case"], name="Sneaky",
                                             kind="fingerprint")
    watchlists.add_entry(actor=personas["charlie"], watchlist=charlie_wl, label="x",
                         data={"subject_id": gallery["anna"].pk})  # points into alice's case
    _print(api, personas, "a2.png", fp.synthetic(11, 2), who="charlie", case="other_case")
    assert not Alert.objects.filter(watchlist=charlie_wl).exists()


def test_pages(client, api, personas, gallery) -> None:
    probe = _print(api, personas, "a1.png", fp.synthetic(11, 1))
    client.force_login(personas["victor"])
    case = personas["case"].pk
    body = client.get(f"/cases/{case}/subjects/").content.decode()
    assert "Anna Adams" in body and "Ben Brown" in body and "New subject" not in body  # viewers cannot create
    body = client.get(f"/subjects/{gallery['ben'].pk}/").content.decode()
    assert body.count('class="fp-print"') == 2 and "Left index" in body and "Only owners and investigators" in body
    body = client.get(f"/media/{probe.pk}/").content.decode()
    assert 'id="panel-fingerprint"' in body and body.count('class="minutia ') >= 12 and "Identify (1:N)" in body
    body = client.get(f"/media/{probe.pk}/fingerprint/identify/").content.decode()
    assert "Match: Anna Adams (BK-1) — right thumb" in body and body.count('class="fp-link"') >= 4
    body = client.get(f"/fingerprints/verify/?media={probe.pk}&subject={gallery['ben'].pk}").content.decode()
    assert "No match" in body and 'class="fp-pair"' in body
    image = client.get(f"/media/{probe.pk}/fingerprint/image.png")
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    # writes from the page
    client.force_login(personas["bob"])
    response = client.post(f"/cases/{case}/subjects/", {"name": "Cara Clark"})
    cara = Subject.objects.get(name="Cara Clark")
    assert response.status_code == 302 and response["Location"] == f"/subjects/{cara.pk}/"
    response = client.post(f"/media/{probe.pk}/fingerprint/enrol/", {"subject": cara.pk, "finger": 3}, follow=True)
    assert "Enrolled as the right middle of Cara Clark" in response.content.decode()
    response = client.post(f"/subjects/{cara.pk}/", {"action": "enrol", "finger": 3, "media": gallery["b0"].pk},
                           follow=True)
    assert "already enrolled" in response.content.decode()
    response = client.post(f"/media/{probe.pk}/fingerprint/dpi/", {"dpi": "abc"}, follow=True)
    assert "DPI must be a number" in response.content.decode()
    # outsiders: 404 everywhere
    client.force_login(personas["charlie"])
    for url in (f"/cases/{case}/subjects/", f"/subjects/{cara.pk}/", f"/media/{probe.pk}/fingerprint/identify/",
                f"/media/{probe.pk}/fingerprint/image.png",
                f"/fingerprints/verify/?media={probe.pk}&subject={cara.pk}"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/media/{probe.pk}/fingerprint/dpi/", {"dpi": "500"}).status_code == 404


def test_watchlist_entry_with_enrolment_media_but_no_subject(api, personas, gallery) -> None:
    wl = watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Marks",
                                     kind="fingerprint")
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="Door handle mark",
                         media_ids=[gallery["b0"].pk])
    hit = _print(api, personas, "b1.png", fp.synthetic(12, 1))
    alert = Alert.objects.get(watchlist=wl, media=hit)
    assert alert.details["subject"] == "Door handle mark" and alert.details["finger_name"] == "print"
    assert alert.details["enrolled_media_id"] == gallery["b0"].pk and alert.details["subject_id"] is None
