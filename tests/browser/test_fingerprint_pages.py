"""Real headless Chromium on the fingerprint pages: the print viewer panel (minutiae + quality overlay), the
subject page with enrolled fingers, the 1:N result list with matched minutiae pairs and the 1:1 form.
Prints are processed by the real plugin through the job pipeline before the browser opens the pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.models import PluginConfiguration
from retrieval.services import fingerprints, plugins
from tests import fingerprint_samples as fp
from tests.browser.conftest import log_in, screenshot_dir
from tests.helpers import process_inline, upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _svg_drawn(page, selector: str) -> bool:
    """The SVG has a size on screen and its print image has loaded."""
    return page.evaluate(
        """(sel) => { const svg = document.querySelector(sel); if (!svg) return false;
           const r = svg.getBoundingClientRect(); const img = svg.querySelector('image');
           return r.width > 100 && r.height > 100 && !!img && img.getBBox().width > 0; }""", selector)


def test_fingerprint_pages_in_a_real_browser(live_server, browser_page, api, personas, settings,  # noqa: F811
                                             tmp_path: Path) -> None:
    settings.MMSEC_MODEL_DIR = fp.model_root()
    plugins.sync_plugins()
    plugins.update_configuration(actor=personas["staff"], config=PluginConfiguration.objects.get(name="fingerprint"),
                                 enabled=True)

    def put(name: str, data: bytes):
        response = upload(api("alice"), personas["case"].pk, name, data)
        return process_inline(response.json()[0]["media"]["id"])

    a0, a1, b0, p11 = (put("anna-thumb.png", fp.synthetic(11, 0)), put("scene-mark.png", fp.synthetic(11, 1)),
                       put("ben-thumb.png", fp.synthetic(12, 0)), put("ben-left-index.png", fp.real("p1_1")))
    anna = fingerprints.create_subject(actor=personas["alice"], case=personas["case"], name="Anna Adams",
                                       reference="BK-1")
    ben = fingerprints.create_subject(actor=personas["alice"], case=personas["case"], name="Ben Brown")
    fingerprints.enrol(actor=personas["alice"], subject=anna, finger=1, media=a0)
    fingerprints.enrol(actor=personas["alice"], subject=ben, finger=1, media=b0)
    fingerprints.enrol(actor=personas["alice"], subject=ben, finger=7, media=p11)

    shots = screenshot_dir(tmp_path)
    page = browser_page
    log_in(page, live_server.url, "alice", "pw-alice")

    page.goto(f"{live_server.url}/media/{a1.pk}/")
    page.wait_for_selector("#panel-fingerprint svg.fp-print")
    page.wait_for_function("document.querySelectorAll('#panel-fingerprint .minutia').length >= 12")
    assert _svg_drawn(page, "#panel-fingerprint svg.fp-print")
    assert page.is_visible("#panel-fingerprint >> text=Quality")
    page.locator("#panel-fingerprint").screenshot(path=str(shots / "fp-viewer-panel.png"))
    page.screenshot(path=str(shots / "fp-media-page.png"), full_page=True)

    page.goto(f"{live_server.url}/subjects/{ben.pk}/")
    page.wait_for_selector(".fingers svg.fp-print")
    assert page.locator(".fingers svg.fp-print").count() == 2
    assert _svg_drawn(page, ".fingers svg.fp-print")
    page.screenshot(path=str(shots / "fp-subject.png"), full_page=True)

    page.goto(f"{live_server.url}/media/{a1.pk}/")
    page.click("text=Identify (1:N)")
    page.wait_for_selector(".decision")
    assert page.inner_text(".decision").startswith("Match: Anna Adams (BK-1)")
    assert page.locator(".fp-result").first.locator("line.fp-link").count() >= 4
    assert _svg_drawn(page, "svg.fp-pair")
    page.screenshot(path=str(shots / "fp-identify.png"), full_page=True)

    page.goto(f"{live_server.url}/fingerprints/verify/")
    page.select_option("#v-media", str(a1.pk))
    page.select_option("#v-subject", str(ben.pk))
    page.click("button:has-text('Verify')")
    page.wait_for_selector(".decision")
    assert page.inner_text(".decision") == "No match"
    page.screenshot(path=str(shots / "fp-verify.png"), full_page=True)

    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(f"{live_server.url}/subjects/{anna.pk}/")
    page.wait_for_selector(".fingers")
    page.screenshot(path=str(shots / "fp-subject-narrow.png"), full_page=True)
