"""Real headless Chromium: the media page's Transcript panel (toggle original/English, click a line to play
from there, keyword highlights) and the transcript search page; screenshots under $MMSEC_SCREENSHOTS."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.services import watchlists
from tests.browser.conftest import log_in, screenshot_dir
from tests.integration.test_transcripts import ALICE_LINES, MODELS, _media, _store

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, url: str, name: str) -> None:
    log_in(page, url, name, f"pw-{name}")


def test_transcript_panel_and_search_page(live_server, browser_page, api, personas, settings,  # noqa: F811
                                          tmp_path: Path) -> None:
    settings.MMSEC_MODEL_DIR = MODELS
    shots = screenshot_dir(tmp_path)
    media = _media(api, personas, seconds=30.0)
    _store(media, ALICE_LINES)
    wl = watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="Words", kind="keyword")
    watchlists.add_entry(actor=personas["alice"], watchlist=wl, label="banco")
    page = browser_page
    _login(page, live_server.url, "alice")

    page.goto(f"{live_server.url}/media/{media.pk}/")
    page.wait_for_selector("#panel-transcript .tr-line")
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    assert page.locator("#panel-transcript .tr-line").count() == 4
    assert page.locator("#panel-transcript .tr-line mark").first.inner_text() == "banco"
    first = page.locator("#panel-transcript .tr-line").first
    assert first.locator(".tr-orig").is_visible() and not first.locator(".tr-en").is_visible()
    assert page.locator(".tl-row .tl-label", has_text="Transcript").count() == 1
    page.locator("#panel-transcript").screenshot(path=str(shots / "transcript-panel.png"))
    page.screenshot(path=str(shots / "media-transcript.png"), full_page=True)

    page.click("#panel-transcript label:has-text('English')")
    assert first.locator(".tr-en").is_visible() and not first.locator(".tr-orig").is_visible()
    assert "we go to the bank" in first.inner_text()
    page.click("#panel-transcript label:has-text('Side by side')")
    assert first.locator(".tr-en").is_visible() and first.locator(".tr-orig").is_visible()
    page.locator("#panel-transcript").screenshot(path=str(shots / "transcript-panel-side-by-side.png"))

    page.click("#panel-transcript button[data-seek='14.50']")
    page.wait_for_function("Math.abs(document.getElementById('player').currentTime - 14.5) < 1.0")

    page.goto(f"{live_server.url}/search/transcripts/")
    assert page.is_visible("text=Search what was said")
    page.screenshot(path=str(shots / "transcript-search-empty.png"), full_page=True)
    page.fill("#tr-q", "bank")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_selector(".tr-results li")
    assert page.locator(".tr-results li").count() == 2  # "bank" + "the money is in the account" (meaning)
    assert page.locator(".tr-results li").first.locator("mark").first.inner_text().lower() == "bank"
    page.screenshot(path=str(shots / "transcript-search.png"), full_page=True)
    page.locator(".tr-results li a").first.click()
    page.wait_for_url(f"**/media/{media.pk}/?t=3.00")
    assert page.get_attribute("#start-at", "data-t") == "3.0"  # timeline.js seeks #player there
    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(f"{live_server.url}/search/transcripts/?q=garage&mode=text")
    page.wait_for_selector(".tr-results li")
    page.screenshot(path=str(shots / "transcript-search-narrow.png"), full_page=True)
