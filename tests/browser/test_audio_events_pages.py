"""Real headless Chromium: the media page of a recording with a siren shows the spectrogram with coloured
event bars and the event list; a video shows the same events on its timeline; the event search page finds
the siren and links to the moment; "sounds like this" lists similar segments. Screenshots are looked at."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.audio_events.tests.conftest import place, siren
from retrieval.models import MediaItem
from tests import samples
from tests.browser.conftest import log_in, screenshot_dir
from tests.conftest import wait_for
from tests.helpers import upload
from tests.integration.test_audio_events import MODELS, _enable, siren_scene

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_audio_event_pages_in_a_real_browser(live_server, browser_page, worker_factory, api, personas,  # noqa: F811
                                             settings, tmp_path: Path) -> None:
    _enable(personas, settings)
    worker = worker_factory(MMSEC_MODEL_DIR=str(MODELS))
    case = personas["case"]
    audio_id = upload(api("alice"), case.pk, "yard-recorder.wav", siren_scene(seed=11, at_s=3.0, total_s=14.0)
                      ).json()[0]["media"]["id"]
    track = place(8.0, 22050, 2.0, siren(4.0, 22050), seed=12)
    video_id = upload(api("alice"), case.pk, "dashcam.mp4",
                      samples.mp4_bytes(seconds=8.0, size=(160, 96), soundtrack=track)).json()[0]["media"]["id"]
    wait_for(lambda: MediaItem.objects.filter(pk__in=[audio_id, video_id], status="ready").count() == 2
             and not MediaItem.objects.filter(pk__in=[audio_id, video_id], jobs__state__in=["queued", "running"])
             .exists(), timeout=300, what="both items processed", on_timeout=worker.log)
    shots = screenshot_dir(tmp_path)
    page = browser_page
    log_in(page, live_server.url, "alice", "pw-alice")

    page.goto(f"{live_server.url}/media/{audio_id}/")
    page.wait_for_selector("#panel-audio-events .spectro img")
    page.wait_for_function("document.querySelector('#panel-audio-events .spectro img').naturalWidth > 0")
    assert page.locator("#panel-audio-events .ev-bar").count() >= 1
    assert page.is_visible("#audio-event-list >> text=Siren")
    assert page.locator(".tl-row .tl-label:has-text('Audio events')").count() == 1
    page.screenshot(path=str(shots / "media-audio-events.png"), full_page=True)
    page.click("#audio-event-list a[data-seek]")
    page.wait_for_function("document.getElementById('player').currentTime > 2.5")

    page.goto(f"{live_server.url}/media/{video_id}/")
    page.wait_for_selector("video#player")
    assert page.locator(".tl-row .tl-label:has-text('Audio events')").count() == 1
    page.wait_for_function("document.querySelector('#panel-audio-events .spectro img').naturalWidth > 0")
    page.screenshot(path=str(shots / "media-video-audio-events.png"), full_page=True)

    page.goto(f"{live_server.url}/audio-events/")
    page.screenshot(path=str(shots / "audio-event-search-empty.png"), full_page=True)
    page.check("input[name=type][value=siren]")
    page.click("button:has-text('Search')")
    page.wait_for_selector("#event-results")
    assert page.locator("#event-results tbody tr").count() == 2
    page.screenshot(path=str(shots / "audio-event-search.png"), full_page=True)
    page.click("#event-results tbody tr:has-text('yard-recorder') >> text=Sounds like this…")
    page.wait_for_selector("#similar-results")
    assert page.locator("#similar-results tbody tr:has-text('dashcam.mp4')").count() == 1  # one run, not 5 rows
    assert page.is_visible("#similar-results >> text=segments")
    page.screenshot(path=str(shots / "audio-event-similar.png"), full_page=True)


def test_a_cut_recording_says_on_its_page_that_it_was_analysed_in_part(live_server, browser_page, worker_factory,
                                                                        api, personas, settings,  # noqa: F811
                                                                        tmp_path: Path) -> None:
    """An interrupted copy (the FLAC header states 20 s, about 10 s are there), processed by a real worker: the
    siren in the first part is found and the processing list says, next to 'done', what was not analysed."""
    import io

    import soundfile as sf

    _enable(personas, settings)
    worker = worker_factory(MMSEC_MODEL_DIR=str(MODELS))
    out = io.BytesIO()
    sf.write(out, place(20.0, 16_000, 3.0, siren(4.0, 16_000), seed=13), 16_000, format="FLAC")
    whole = out.getvalue()
    media_id = upload(api("alice"), personas["case"].pk, "copied-from-phone.flac", whole[: len(whole) // 2]
                      ).json()[0]["media"]["id"]
    wait_for(lambda: MediaItem.objects.filter(pk=media_id, status="ready").exists()
             and not MediaItem.objects.filter(pk=media_id, jobs__state__in=["queued", "running"]).exists(),
             timeout=300, what="the cut recording processed", on_timeout=worker.log)
    page = browser_page
    log_in(page, live_server.url, "alice", "pw-alice")
    page.goto(f"{live_server.url}/media/{media_id}/")
    warning = page.locator(".warning:has-text('Partly analysed')")
    assert warning.count() >= 1 and warning.first.is_visible()
    assert "of the 20.0 s of audio this file declares could be decoded" in warning.first.inner_text()
    assert page.is_visible("#audio-event-list >> text=Siren")
    page.wait_for_function("document.querySelector('#panel-audio-events .spectro img').naturalWidth > 0")
    warning.first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir(tmp_path) / "media-partly-analysed.png"), full_page=True)
    page.goto(f"{live_server.url}/cases/{personas['case'].pk}/")
    badge = page.locator(f".media-card[data-id='{media_id}'] .badge.partial")
    assert badge.is_visible() and "not analysed" in (badge.get_attribute("title") or "")
    page.screenshot(path=str(screenshot_dir(tmp_path) / "case-partly-analysed.png"), full_page=True)
