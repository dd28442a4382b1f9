"""The investigator's alert flow in real headless Chromium, on real weights and a real worker:
create a keyword watchlist → upload a recording → Whisper transcribes it → alert in the inbox
(unread badge) → confirm with a note → evidence report shows the reviewed alert."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.models import Alert, PluginConfiguration
from retrieval.services import cases, plugins
from tests.browser.conftest import log_in, screenshot_dir
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "plugins/speech_translation/tests/samples/librivox_0870.flac"
MODELS = ROOT / "var" / "models"


def test_keyword_alert_review_and_report_in_a_real_browser(live_server, browser_page, worker_factory,
                                                           django_user_model, tmp_path: Path) -> None:
    if not (MODELS / "speech_translation").exists():
        pytest.skip("speech weights not installed (make models)")
    alice = django_user_model.objects.create_user("alice", password="correct horse 1")
    staff = django_user_model.objects.create_user("admin", password="x", is_staff=True, is_superuser=True)
    case = cases.create_case(actor=alice, title="Ransom call")
    plugins.sync_plugins()
    plugins.update_configuration(actor=staff, config=PluginConfiguration.objects.get(name="speech_translation"),
                                 enabled=True)
    worker = worker_factory(MMSEC_MODEL_DIR=str(MODELS))
    shots = screenshot_dir(tmp_path)
    page = browser_page
    log_in(page, live_server.url, "alice", "correct horse 1")

    page.click("nav >> text=Watchlists")
    assert page.is_visible("text=No watchlists yet")
    page.screenshot(path=str(shots / "watchlists-empty.png"), full_page=True)
    page.select_option("#id_case", str(case.pk))
    page.fill("#id_name", "Names in the call")
    page.select_option("#id_kind", "keyword")
    page.click("text=Create watchlist")
    page.wait_for_selector("text=No entries yet")
    page.fill("#id_label", "John Dashwood")
    page.click("text=Add entry")
    page.wait_for_selector("td:has-text('John Dashwood')")
    page.screenshot(path=str(shots / "watchlist-detail.png"), full_page=True)

    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.set_input_files("#file-input", [str(SAMPLE)])
    wait_for(lambda: Alert.objects.filter(case=case).exists(), timeout=240, what="a keyword alert",
             on_timeout=worker.log)
    page.goto(f"{live_server.url}/alerts/")
    assert page.locator("nav .count").inner_text().strip() == "1"
    assert page.is_visible("text=John Dashwood")
    page.screenshot(path=str(shots / "alerts-inbox.png"), full_page=True)

    page.click("table a:has-text('said at')")
    page.wait_for_selector("text=Review")
    page.select_option("#id_status", "confirmed")
    page.fill("#id_note", "Name of the victim's landlord, clearly audible")
    page.click("text=Save review")
    page.wait_for_selector("text=Alert marked confirmed")
    page.screenshot(path=str(shots / "alert-detail.png"), full_page=True)
    assert page.locator("nav .count").count() == 0

    page.click("dd a:has-text('librivox_0870.flac')")
    page.wait_for_selector("#player")
    page.screenshot(path=str(shots / "media-audio-timeline.png"), full_page=True)

    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.wait_for_selector(".badge.det.alert")
    page.screenshot(path=str(shots / "case-with-alert.png"), full_page=True)
    page.click("text=Evidence report")
    page.wait_for_selector("text=Custody chain")
    assert page.is_visible("text=clearly audible")
    page.screenshot(path=str(shots / "case-report.png"), full_page=True)
    with page.expect_download() as download:
        page.click("text=Download PDF")
    assert download.value.suggested_filename == f"case-{case.pk}-report.pdf"
