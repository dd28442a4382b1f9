"""Real headless Chromium (Debian ``chromium``) driven by Playwright: log in, create a case,
upload an image, an audio file and a video, and see all three processed with previews."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.models import MediaItem
from tests import samples
from tests.browser.conftest import screenshot_dir
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_upload_flow_in_a_real_browser(live_server, browser_page, worker_factory, django_user_model,
                                       tmp_path: Path) -> None:
    worker = worker_factory()
    django_user_model.objects.create_user("alice", password="correct horse 1")
    shots = screenshot_dir(tmp_path)
    files = [
        samples.write(tmp_path, "harbour.png", samples.png_bytes(320, 200)),
        samples.write(tmp_path, "call.mp3", samples.encode_audio("mp3", "libmp3lame", seconds=2.0)),
        samples.write(tmp_path, "cctv.mp4", samples.mp4_bytes(seconds=2.0, size=(160, 96))),
    ]
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.screenshot(path=str(shots / "login.png"))
    page.fill("#id_username", "alice")
    page.fill("#id_password", "correct horse 1")
    page.click("button[type=submit]")
    page.wait_for_url("**/cases/")
    page.screenshot(path=str(shots / "cases-empty.png"), full_page=True)
    assert page.is_visible("text=No cases yet")

    page.fill("#id_title", "Harbour warehouse break-in")
    page.fill("#id_description", "CCTV, a phone call and scene photos")
    page.click("text=Create case")
    page.wait_for_selector("#dropzone")
    # the upload script is attached at the end of the page: without it a file choice goes nowhere (a CI flake)
    page.wait_for_load_state("load")
    page.screenshot(path=str(shots / "case-empty.png"), full_page=True)

    page.set_input_files("#file-input", [str(f) for f in files])
    page.wait_for_function("document.querySelectorAll('.media-card').length === 3")
    wait_for(lambda: MediaItem.objects.filter(status="ready").count() == 3, timeout=90,
             what="three processed items", on_timeout=worker.log)
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.media-card')).every(c => c.dataset.status === 'ready' "
        "&& c.querySelector('img') && c.querySelector('img').complete && c.querySelector('img').naturalWidth > 0)"
    )
    assert page.locator(".upload.done").count() == 3
    page.wait_for_function("document.getElementById('stat-ready').textContent.trim() === '3'")
    page.screenshot(path=str(shots / "case-with-evidence.png"), full_page=True)

    page.click(".media-card a.name:has-text('cctv.mp4')")
    page.wait_for_selector("video")
    assert page.is_visible("text=SHA-256")
    page.screenshot(path=str(shots / "media-video.png"), full_page=True)
    page.set_viewport_size({"width": 420, "height": 900})
    page.go_back()
    page.wait_for_selector(".media-card")
    page.screenshot(path=str(shots / "case-narrow.png"), full_page=True)
