"""Watchlists and alerts: matching after processing, de-duplication, visibility across cases,
review, notifications (e-mail and a real local webhook), API and pages."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from retrieval.models import Alert, AlertStatus, AuditEvent, Finding, MediaItem, PluginConfiguration
from retrieval.services import cases, notifications, plugins, watchlists
from retrieval.services.embeddings import NewFinding, store_findings
from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db


def _media(api, personas, case_key: str = "case", who: str = "alice", name: str = "clip.wav") -> MediaItem:
    response = upload(api(who), personas[case_key].pk, name, samples.wav_bytes(1.0))
    assert response.status_code == 201, response.content
    return MediaItem.objects.get(pk=response.json()[0]["media"]["id"])


def _speech(media: MediaItem, *segments: tuple[float, str, str]) -> None:
    """Store transcript segments as the speech plugin does (text = original words, text_en = English)."""
    store_findings(media, "speech_translation", "v-test", [
        NewFinding(key=f"audio:0:{i}", text=text, start_s=start, end_s=start + 2.0, score=0.9,
                   data={"language": "es", "text_en": english})
        for i, (start, text, english) in enumerate(segments)
    ])


def _keyword_list(personas, *phrases: str, **kwargs) -> watchlists.Watchlist:
    wl = watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Phrases",
                                     kind="keyword", **kwargs)
    for phrase in phrases:
        watchlists.add_entry(actor=personas["alice"], watchlist=wl, label=phrase)
    return wl


def test_keyword_in_translation_raises_one_alert_with_time_and_rerun_does_not_repeat(api, personas) -> None:
    wl = _keyword_list(personas, "bank", "tomorrow at six")
    media = _media(api, personas)
    _speech(media, (3.0, "vamos al banco mañana a las seis", "we go to the Bank tomorrow  at six"),
            (9.0, "nada más", "nothing else"))
    created = watchlists.evaluate_media(media, "speech_translation", "v-test")
    assert sorted(a.entry_label for a in created) == ["bank", "tomorrow at six"]
    alert = Alert.objects.get(watchlist=wl, entry_label="bank")
    assert alert.start_s == 3.0 and alert.end_s == 5.0 and alert.details["matched_in"] == "English"
    assert alert.case_id == personas["case"].pk and alert.status == AlertStatus.NEW
    assert watchlists.evaluate_media(media, "speech_translation", "v-test") == []
    _speech(media, (3.0, "vamos al banco mañana a las seis", "we go to the bank tomorrow at six"))
    assert watchlists.evaluate_media(media, "speech_translation", "v-test") == []
    assert Alert.objects.filter(watchlist=wl).count() == 2


def test_keyword_needs_whole_words(api, personas) -> None:
    _keyword_list(personas, "bank")
    media = _media(api, personas)
    _speech(media, (0.0, "", "the banker and the embankment"))
    assert watchlists.evaluate_media(media, "speech_translation", "v-test") == []


def test_event_type_threshold_and_disabled_lists(api, personas) -> None:
    wl = watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Shots",
                                     kind="event_type", threshold=0.6)
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="Gunshot", value="gunshot")
    media = _media(api, personas)
    store_findings(media, "audio_events", "v-test", [
        NewFinding(key="audio:0:0", label="gunshot", score=0.9, start_s=12.4, end_s=12.9,
                   data={"audioset_class": "Gunshot, gunfire", "plain_name": "Gunshot"}),
        NewFinding(key="audio:0:1", label="gunshot", score=0.4, start_s=30.0, end_s=30.5, data={}),
        NewFinding(key="audio:0:2", label="dog_bark", score=0.99, start_s=1.0, end_s=2.0, data={}),
    ])
    wl.enabled = False
    wl.save()
    assert watchlists.evaluate_media(media, "audio_events", "v-test") == []
    wl.enabled = True
    wl.save()
    [alert] = watchlists.evaluate_media(media, "audio_events", "v-test")
    assert alert.start_s == 12.4 and alert.score == 0.9 and "Gunshot at 00:12" == alert.summary


def test_a_broken_matcher_is_audited_and_does_not_fail_processing(api, personas, monkeypatch) -> None:
    wl = _keyword_list(personas, "bank")
    media = _media(api, personas)
    _speech(media, (0.0, "bank", "bank"))

    def boom(*args, **kwargs):
        raise RuntimeError("matcher exploded")

    matcher = watchlists.matcher_for("keyword")
    monkeypatch.setitem(watchlists._MATCHERS, "keyword", watchlists.Matcher("keyword", matcher.plugins, 0.0, boom))
    assert watchlists.evaluate_media(media, "speech_translation", "v-test") == []
    event = AuditEvent.objects.get(action="watchlist.match_failed")
    assert event.target_id == str(wl.pk) and "matcher exploded" in event.details["error"]


def test_cross_case_watchlist_alert_is_visible_only_to_members_of_both_cases(api, personas, make_user) -> None:
    alice, charlie = personas["alice"], personas["charlie"]
    cases.set_member(actor=charlie, case=personas["other_case"], user=alice, role="investigator")
    wl = _keyword_list(personas, "bank", watched_case_ids=[personas["other_case"].pk])
    media = _media(api, personas, case_key="other_case", who="charlie")
    _speech(media, (0.0, "bank", "bank"))
    [alert] = watchlists.evaluate_media(media, "speech_translation", "v-test")
    assert alert.case_id == personas["other_case"].pk and alert.watchlist_id == wl.pk
    assert Alert.objects.visible_to(alice).filter(pk=alert.pk).exists()
    assert not Alert.objects.visible_to(charlie).exists()  # not a member of the watchlist's case
    assert not Alert.objects.visible_to(personas["bob"]).exists()  # not a member of the evidence's case
    assert api("charlie").get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert api("bob").get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert api("alice").get(f"/api/v1/alerts/{alert.pk}/").status_code == 200


def test_watching_a_case_you_cannot_write_is_refused(personas) -> None:
    with pytest.raises(PermissionError):
        _keyword_list(personas, "bank", watched_case_ids=[personas["other_case"].pk])


def test_enrolment_media_must_come_from_the_watchlists_case(api, personas) -> None:
    wl = _keyword_list(personas)
    foreign = _media(api, personas, case_key="other_case", who="charlie")
    with pytest.raises(ValueError, match="watchlist's case"):
        watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="x", media_ids=[foreign.pk])


def test_review_requires_note_to_dismiss_and_is_audited(api, personas) -> None:
    _keyword_list(personas, "bank")
    media = _media(api, personas)
    _speech(media, (0.0, "bank", "bank"))
    [alert] = watchlists.evaluate_media(media, "speech_translation", "v-test")
    url = f"/api/v1/alerts/{alert.pk}/review/"
    assert api("bob").post(url, {"status": "dismissed"}, format="json").status_code == 400
    assert api("victor").post(url, {"status": "confirmed"}, format="json").status_code == 403
    response = api("bob").post(url, {"status": "dismissed", "note": "bank of the river"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    alert.refresh_from_db()
    assert alert.reviewed_by == personas["bob"] and alert.note == "bank of the river"
    assert AuditEvent.objects.filter(action="alert.review", target_id=str(alert.pk)).exists()
    assert api("alice").get("/api/v1/alerts/?status=new").json()["count"] == 0


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        length = int(self.headers["Content-Length"])
        _Receiver.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_notifications_email_members_and_post_the_webhook_once(api, personas, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MMSEC_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        personas["alice"].email = "alice@example.org"
        personas["alice"].save()
        wl = _keyword_list(personas, "bank", webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        wl.notify_users.add(personas["charlie"])  # not a member: must not be told
        personas["charlie"].email = "charlie@example.org"
        personas["charlie"].save()
        media = _media(api, personas)
        _speech(media, (4.0, "banco", "bank"))
        [alert] = watchlists.evaluate_media(media, "speech_translation", "v-test")
        _Receiver.bodies.clear()
        result = notifications.notify(alert.pk)
        assert result == {"emails": 1, "webhook_status": 204}
        assert [m.to for m in mail.outbox] == [["alice@example.org"]]
        assert f"/alerts/{alert.pk}/" in mail.outbox[0].body
        [body] = _Receiver.bodies
        assert body["alert_id"] == alert.pk and body["start_s"] == 4.0 and body["entry"] == "bank"
        assert notifications.notify(alert.pk) == {"skipped": True}
    finally:
        server.shutdown()


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379/", "http://10.1.2.3/hook", "http://[::1]/x",
                                 "http://169.254.169.254/latest/meta-data", "file:///etc/passwd", "ftp://example.org/"])
def test_webhooks_to_the_internal_network_are_refused(api, personas, url) -> None:
    with pytest.raises(ValueError):
        _keyword_list(personas, "bank", webhook_url=url)
    body = {"case": personas["case"].pk, "name": "x", "kind": "keyword", "webhook_url": url}
    assert api("alice").post("/api/v1/watchlists/", body, format="json").status_code == 400


def test_watchlist_api_create_entries_and_permissions(api, personas) -> None:
    body = {"case": personas["case"].pk, "name": "Sirens", "kind": "event_type", "threshold": 0.7}
    assert api("victor").post("/api/v1/watchlists/", body, format="json").status_code == 400
    assert api("charlie").post("/api/v1/watchlists/", body, format="json").status_code == 400
    response = api("bob").post("/api/v1/watchlists/", body, format="json")
    assert response.status_code == 201, response.content
    wl_id = response.json()["id"]
    entry = api("bob").post(f"/api/v1/watchlists/{wl_id}/entries/", {"label": "Siren", "value": "siren"},
                            format="json")
    assert entry.status_code == 201, entry.content
    assert api("victor").post(f"/api/v1/watchlists/{wl_id}/entries/", {"label": "x"},
                              format="json").status_code == 403
    assert api("charlie").get(f"/api/v1/watchlists/{wl_id}/").status_code == 404
    assert api("victor").get(f"/api/v1/watchlists/{wl_id}/").json()["entry_count"] == 1
    assert api("bob").patch(f"/api/v1/watchlists/{wl_id}/", {"enabled": False}, format="json").status_code == 200
    assert api("bob").patch(f"/api/v1/watchlists/{wl_id}/", {"kind": "keyword"}, format="json").status_code == 400
    assert api("alice").delete(f"/api/v1/watchlists/{wl_id}/").status_code == 204


def test_pages_inbox_detail_review_and_unread_badge(client, api, personas) -> None:
    _keyword_list(personas, "bank")
    media = _media(api, personas)
    _speech(media, (0.0, "banco", "bank"))
    [alert] = watchlists.evaluate_media(media, "speech_translation", "v-test")
    client.force_login(personas["alice"])
    inbox = client.get("/alerts/")
    assert inbox.status_code == 200 and b"&quot;bank&quot; said at 00:00" in inbox.content
    assert b'aria-label="1 new"' in inbox.content
    page = client.get(f"/alerts/{alert.pk}/")
    assert page.status_code == 200 and b"clip.wav" in page.content
    response = client.post(f"/alerts/{alert.pk}/", {"status": "confirmed", "note": "heard it"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "confirmed"
    assert b'aria-label="1 new"' not in client.get("/alerts/").content
    client.force_login(personas["charlie"])
    assert client.get(f"/alerts/{alert.pk}/").status_code == 404
    assert client.get("/watchlists/").status_code == 200


def test_real_speech_plugin_job_raises_keyword_alert(api, personas, settings) -> None:
    """End to end on real weights: Whisper hears 'dashwood' in a LibriVox clip and the job raises the alert."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    settings.MMSEC_MODEL_DIR = root / "var" / "models"  # where `make models` installs the weights
    plugins.sync_plugins()
    config = PluginConfiguration.objects.get(name="speech_translation")
    if not config.installed:
        pytest.skip("speech_translation weights not installed")
    plugins.update_configuration(actor=personas["staff"], config=config, enabled=True)
    _keyword_list(personas, "John Dashwood")
    sample = root / "plugins/speech_translation/tests/samples/librivox_0870.flac"
    response = upload(api("alice"), personas["case"].pk, "call.flac", sample.read_bytes())
    media = process_inline(response.json()[0]["media"]["id"])
    assert media.status == "ready"
    texts = list(Finding.objects.filter(media=media, plugin="speech_translation").values_list("text", flat=True))
    jobs = list(media.jobs.values_list("step", "state", "error"))
    alerts = list(Alert.objects.filter(media=media))
    assert len(alerts) == 1, (texts, jobs)
    alert = alerts[0]
    assert alert.entry_label == "John Dashwood" and alert.plugin == "speech_translation"
    assert alert.start_s is not None
    assert Finding.objects.filter(pk=alert.finding_id, media=media).exists()


def test_dropping_a_model_version_keeps_its_alerts(api, personas) -> None:
    """Regression: deleting a space whose findings an alert points to failed with a FK violation."""
    from retrieval.services.embeddings import drop_space, get_or_create_space

    space = get_or_create_space("speech_translation", "minilm", "v-old", 4, activate_if_first=False)
    _keyword_list(personas, "bank")
    media = _media(api, personas)
    store_findings(media, "speech_translation", "v-old", [
        NewFinding(key="audio:0:0", text="bank", start_s=0.0, end_s=1.0, space=space, vector=[1, 0, 0, 0]),
    ])
    [alert] = watchlists.evaluate_media(media, "speech_translation", "v-old")
    space.state = "retired"
    drop_space(space)
    alert.refresh_from_db()
    assert alert.finding_id is None and alert.summary.startswith('"bank"')
    assert not Finding.objects.filter(model_version="v-old").exists()
