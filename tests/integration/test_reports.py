"""Evidence report (HTML and PDF) and the case page's badges and activity chart."""

from __future__ import annotations

import pytest

from retrieval.models import AuditEvent, MediaItem
from retrieval.services import watchlists
from retrieval.services.embeddings import NewFinding, store_findings
from tests import samples
from tests.helpers import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def case_with_alert(api, personas):
    response = upload(api("alice"), personas["case"].pk, "call.wav", samples.wav_bytes(1.0))
    media = MediaItem.objects.get(pk=response.json()[0]["media"]["id"])
    store_findings(media, "speech_translation", "v", [
        NewFinding(key="audio:0:0", text="el banco", start_s=1.0, end_s=2.0, score=0.9, data={"text_en": "the bank"}),
    ])
    store_findings(media, "audio_events", "v", [
        NewFinding(key="audio:0:0", label="gunshot", start_s=0.1, end_s=0.3, score=0.8),
        NewFinding(key="audio:0:1", label="framewise", start_s=0.0, end_s=1.0, score=0.8),
    ])
    wl = watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Words", kind="keyword")
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="bank")
    [alert] = watchlists.evaluate_media(media, "speech_translation", "v")
    watchlists.review(alert, actor=personas["bob"], status="confirmed", note="clearly audible")
    return media, alert


def test_html_report_has_hashes_detections_reviewed_alerts_and_custody(client, personas, case_with_alert) -> None:
    media, alert = case_with_alert
    client.force_login(personas["victor"])  # a viewer may export
    page = client.get(f"/cases/{personas['case'].pk}/report/")
    assert page.status_code == 200
    body = page.content.decode()
    assert media.sha256 in body and "audio_events 1" in body and "speech_translation 1" in body
    assert "clearly audible" in body and "alert.review" in body and "media.upload" in body
    assert AuditEvent.objects.filter(action="case.export", actor_name="victor", details__format="html").exists()


def test_pdf_report_is_a_pdf_with_the_evidence_hash(client, personas, case_with_alert) -> None:
    media, _ = case_with_alert
    client.force_login(personas["alice"])
    response = client.get(f"/cases/{personas['case'].pk}/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = response.content
    assert data.startswith(b"%PDF") and len(data) > 2000
    assert AuditEvent.objects.filter(action="case.export", details__format="pdf").exists()


def test_outsiders_cannot_export(client, personas, case_with_alert) -> None:
    client.force_login(personas["charlie"])
    assert client.get(f"/cases/{personas['case'].pk}/report/").status_code == 404
    assert client.get(f"/cases/{personas['case'].pk}/report.pdf").status_code == 404
    client.force_login(personas["staff"])
    assert client.get(f"/cases/{personas['case'].pk}/report.pdf").status_code == 404


def test_case_page_shows_badges_alert_count_and_activity(client, personas, case_with_alert) -> None:
    client.force_login(personas["alice"])
    body = client.get(f"/cases/{personas['case'].pk}/").content.decode()
    assert "1 event</span>" in body and "1 segment</span>" in body and "1 alert</span>" in body
    assert 'class="uploads"' in body and "Evidence report" in body
