"""Reference collections in a real headless Chromium with a real Celery worker: create a collection,
drop a reference recording (fingerprinted by the worker), upload evidence containing a noisy excerpt,
and see the match on the media page (timeline row, waveform marks, occurrences table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.models import Finding, MediaItem, PluginConfiguration, ReferenceRecording
from retrieval.services import cases, plugins
from tests import reference_audio as ra
from tests.browser.conftest import log_in, screenshot_dir
from tests.conftest import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_reference_collection_and_match_on_the_media_page(live_server, browser_page, worker_factory,  # noqa: F811
                                                          django_user_model, tmp_path: Path) -> None:
    worker = worker_factory()
    alice = django_user_model.objects.create_user("alice", password="correct horse 1")
    staff = django_user_model.objects.create_user("root", password="x", is_staff=True, is_superuser=True)
    case = cases.create_case(actor=alice, title="Broadcast intercepts")
    plugins.update_configuration(actor=staff, config=PluginConfiguration.objects.get(name="audio_fingerprint"),
                                 enabled=True)
    shots = screenshot_dir(tmp_path)
    anthem = ra.music(7, 40.0)
    ref_file = tmp_path / "anthem-broadcast.wav"
    ref_file.write_bytes(ra.wav(anthem))
    other_file = tmp_path / "jingle.wav"
    other_file.write_bytes(ra.wav(ra.music(8, 25.0)))
    evidence_file = tmp_path / "phone-call.wav"
    evidence_file.write_bytes(ra.wav(ra.noisy_evidence(anthem, ref_start_s=12.0, at_s=11.0, snr_db=5.0)))

    page = browser_page
    log_in(page, live_server.url, "alice", "correct horse 1")
    page.click("nav >> text=References")
    page.wait_for_selector("text=No reference collections yet")
    page.screenshot(path=str(shots / "references-empty.png"), full_page=True)
    page.fill("#id_name", "Known broadcasts")
    page.fill("#id_description", "Recordings of the pirate station")
    page.click("text=Create collection")
    page.wait_for_selector("#ref-dropzone")
    # the upload script is attached at the end of the page: without it a file choice goes nowhere (a CI flake)
    page.wait_for_load_state("load")
    page.set_input_files("#ref-file-input", [str(ref_file), str(other_file)])
    page.wait_for_function("document.querySelectorAll('#recordings tr[data-id]').length === 2")
    wait_for(lambda: ReferenceRecording.objects.filter(status="ready").count() == 2, timeout=120,
             what="two fingerprinted references", on_timeout=worker.log)
    page.wait_for_function("document.querySelectorAll('#recordings tr[data-status=\"ready\"]').length === 2")
    page.wait_for_function("document.getElementById('stat-ready').textContent.trim() === '2'")
    assert page.locator(".upload.done").count() == 2
    page.screenshot(path=str(shots / "reference-collection.png"), full_page=True)

    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.set_input_files("#file-input", [str(evidence_file)])
    wait_for(lambda: MediaItem.objects.filter(status="ready").count() == 1
             and Finding.objects.filter(label__startswith="reference:").exists(),
             timeout=120, what="evidence processed and matched", on_timeout=worker.log)
    media = MediaItem.objects.get()
    page.goto(f"{live_server.url}/media/{media.pk}/")
    page.wait_for_selector("#panel-recording-matches")
    assert page.locator("#recording-matches tbody tr").count() == 1
    assert page.is_visible("#recording-matches >> text=anthem-broadcast.wav")
    assert page.locator(".tl-label", has_text="Recording matches").count() == 1
    assert page.locator(".ref-wave .ref-mark").count() == 1
    page.screenshot(path=str(shots / "media-recording-match.png"), full_page=True)
    page.click("#recording-matches a[data-seek]")
    page.wait_for_function("document.getElementById('player').currentTime > 10.5")
