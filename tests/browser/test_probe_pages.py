"""Real headless Chromium on the search-by-example pages: an audio clip (a reference excerpt followed by a siren)
is named as the known recording with its offsets and finds the siren in the case; a fingerprint image is
identified as an enrolled subject with the matched minutiae drawn next to the (inline, never stored) probe.
Screenshots are looked at (``make screenshots`` writes them to docs/screenshots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plugins.audio_events.tests.conftest import place, siren
from retrieval import views_probes
from retrieval.models import MediaItem, PluginConfiguration
from retrieval.services import fingerprints, plugins, references
from tests import fingerprint_samples as fp
from tests import reference_audio as ra
from tests.browser.conftest import log_in, screenshot_dir
from tests.helpers import process_inline, upload
from tests.integration.test_audio_events import _enable, siren_scene

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_audio_clip_probe_page_in_a_real_browser(live_server, browser_page, api, personas, settings,  # noqa: F811
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _enable(personas, settings)
    anthem = ra.music(7, 40.0)
    collection = references.create_collection(actor=personas["alice"], case=personas["case"], name="Broadcasts")
    ref_path = tmp_path / "station-anthem.wav"
    ref_path.write_bytes(ra.wav(anthem))
    recording = references.add_file(actor=None, collection=collection, path=ref_path).recording
    references.ingest_recordings([recording.pk])
    response = upload(api("alice"), personas["case"].pk, "yard-recorder.wav", siren_scene(seed=11, at_s=3.0,
                                                                                          total_s=12.0))
    process_inline(response.json()[0]["media"]["id"])
    response = upload(api("alice"), personas["case"].pk, "gate-camera.wav", siren_scene(seed=12, at_s=2.0,
                                                                                        total_s=10.0))
    process_inline(response.json()[0]["media"]["id"])
    before = MediaItem.objects.count()
    monkeypatch.setattr(views_probes, "PAGE_SIZE", 1)  # two hits → two pages of the client-side pager

    clip = tmp_path / "intercept.wav"  # 8 s of the anthem from 10 s, then a siren
    tail = place(6.0, ra.SR, 1.0, siren(4.0, ra.SR), seed=5)
    clip.write_bytes(ra.wav(np.concatenate([anthem[10 * ra.SR:18 * ra.SR], tail]).astype(np.float32)))

    shots = screenshot_dir(tmp_path)
    page = browser_page
    log_in(page, live_server.url, "bob", "pw-bob")
    page.goto(f"{live_server.url}/search/")
    page.click("a.mode:has-text('Audio clip')")
    page.wait_for_selector("#id_clip")
    page.screenshot(path=str(shots / "probe-audio-empty.png"), full_page=True)
    page.set_input_files("#id_clip", str(clip))
    page.click("button:has-text('Search')")
    page.wait_for_selector("#probe-results")
    assert page.inner_text("#known-recording .decision") == "Known recording: station-anthem.wav"
    row = page.inner_text("#recording-results tbody tr")
    assert "10." in row or "9.9" in row, row  # the offset in the reference
    assert page.is_visible("#clip-events >> text=Siren")
    n = page.locator("#similar-results tbody tr").count()
    assert n >= 2  # both recordings
    assert page.locator("#similar-results tbody tr:visible").count() == 1
    assert page.inner_text(".pager [role=status]") == f"Results 1–1 of {n}"
    assert page.is_disabled(".pager button:has-text('Previous')")
    first = page.inner_text("#similar-results tbody tr:visible")
    page.click(".pager button:has-text('Next')")
    assert page.inner_text(".pager [role=status]") == f"Results 2–2 of {n}"
    assert page.inner_text("#similar-results tbody tr:visible") != first
    names = page.eval_on_selector_all("#similar-results tbody tr", "rows => rows.map(r => r.textContent).join(' ')")
    assert "yard-recorder.wav" in names and "gate-camera.wav" in names
    assert page.locator("#similar-results a[href*='?t=']").count() >= 1
    page.click(".pager button:has-text('Previous')")
    page.click("details.probe-filters summary")
    assert page.is_visible("#pf-from") and page.is_visible("#pf-min-score")
    page.screenshot(path=str(shots / "probe-audio.png"), full_page=True)
    assert MediaItem.objects.count() == before  # the clip was not stored

    page.set_input_files("#id_clip", {"name": "photo.png", "mimeType": "image/png", "buffer": fp.synthetic(3, 0)})
    page.click("button:has-text('Search')")
    page.wait_for_selector("#probe-error")
    assert "image" in page.inner_text("#probe-error")


def test_fingerprint_probe_page_in_a_real_browser(live_server, browser_page, api, personas, settings,  # noqa: F811
                                                  tmp_path: Path) -> None:
    settings.MMSEC_MODEL_DIR = fp.model_root()
    plugins.sync_plugins()
    plugins.update_configuration(actor=personas["staff"], config=PluginConfiguration.objects.get(name="fingerprint"),
                                 enabled=True)

    def put(name: str, data: bytes) -> MediaItem:
        response = upload(api("alice"), personas["case"].pk, name, data)
        return process_inline(response.json()[0]["media"]["id"])

    a0, b0 = put("anna-thumb.png", fp.synthetic(11, 0)), put("ben-thumb.png", fp.synthetic(12, 0))
    anna = fingerprints.create_subject(actor=personas["alice"], case=personas["case"], name="Anna Adams",
                                       reference="BK-1")
    ben = fingerprints.create_subject(actor=personas["alice"], case=personas["case"], name="Ben Brown")
    fingerprints.enrol(actor=personas["alice"], subject=anna, finger=1, media=a0)
    fingerprints.enrol(actor=personas["alice"], subject=ben, finger=1, media=b0)
    mark = tmp_path / "scene-mark.png"
    mark.write_bytes(fp.synthetic(11, 1))
    before = MediaItem.objects.count()

    shots = screenshot_dir(tmp_path)
    page = browser_page
    log_in(page, live_server.url, "victor", "pw-victor")
    page.goto(f"{live_server.url}/search/")
    page.click("a.mode:has-text('Fingerprints')")
    page.wait_for_selector("#id_print")
    assert page.is_visible("a:has-text('1:1 verification')")
    page.screenshot(path=str(shots / "probe-fingerprint-empty.png"), full_page=True)
    page.set_input_files("#id_print", str(mark))
    page.fill("#id_dpi", "500")
    page.click("button:has-text('Identify')")
    page.wait_for_selector("#probe-decision")
    assert page.inner_text("#probe-decision").startswith("Match: Anna Adams (BK-1)")
    first = page.locator(".fp-result").first
    assert first.locator("line.fp-link").count() >= 4
    page.wait_for_function("""() => { const svg = document.querySelector('svg.fp-pair');
        const img = svg && svg.querySelector('image'); return !!img && img.getBBox().width > 0
        && svg.getBoundingClientRect().width > 200; }""")
    assert first.locator("image").first.get_attribute("href").startswith("data:image/png;base64,")
    page.wait_for_load_state("networkidle")  # the candidates' print images (SVG <image>) load after the page
    page.screenshot(path=str(shots / "probe-fingerprint.png"), full_page=True)
    assert MediaItem.objects.count() == before

    stranger = tmp_path / "unknown.png"
    stranger.write_bytes(fp.synthetic(13, 0))
    page.set_input_files("#id_print", str(stranger))
    page.click("button:has-text('Identify')")
    page.wait_for_selector("#probe-decision:has-text('No match')")
    page.screenshot(path=str(shots / "probe-fingerprint-no-match.png"), full_page=True)
