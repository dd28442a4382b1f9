"""Server-rendered pages: login required, outsiders get 404 everywhere, owners manage members."""

from __future__ import annotations

import pytest

from retrieval.models import CaseMembership
from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db


def test_pages_require_login(client, personas) -> None:
    for url in ("/cases/", f"/cases/{personas['case'].pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_login_page_renders(client) -> None:
    response = client.get("/login/")
    assert response.status_code == 200 and b"Log in" in response.content


def test_case_list_shows_an_empty_state_for_new_users(client, make_user) -> None:
    client.force_login(make_user("newbie"))
    response = client.get("/cases/")
    assert b"No cases yet" in response.content and b"Create your first case" in response.content


def test_creating_a_case_from_the_page(client, personas) -> None:
    client.force_login(personas["charlie"])
    response = client.post("/cases/new/", {"title": "From the page", "description": ""})
    assert response.status_code == 302
    assert CaseMembership.objects.get(case__title="From the page").role == "owner"


def test_outsiders_get_404_for_case_pages_media_pages_files_and_previews(client, api, personas) -> None:
    media_id = upload(api("alice"), personas["case"].pk, "a.png", samples.png_bytes()).json()[0]["media"]["id"]
    process_inline(media_id)
    case_id = personas["case"].pk
    urls = [f"/cases/{case_id}/", f"/cases/{case_id}/status/?ids={media_id}", f"/media/{media_id}/",
            f"/media/{media_id}/file/", f"/media/{media_id}/preview.png"]
    for who in ("charlie", "staff"):
        client.force_login(personas[who])
        for url in urls:
            assert client.get(url).status_code == 404, (who, url)
    client.force_login(personas["victor"])
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_case_page_shows_media_and_live_status(client, api, personas) -> None:
    media_id = upload(api("alice"), personas["case"].pk, "scene.png", samples.png_bytes()).json()[0]["media"]["id"]
    process_inline(media_id)
    client.force_login(personas["bob"])
    page = client.get(f"/cases/{personas['case'].pk}/")
    assert b"scene.png" in page.content and b"dropzone" in page.content
    status = client.get(f"/cases/{personas['case'].pk}/status/?ids={media_id}").json()
    assert status["items"][0]["status"] == "ready" and status["items"][0]["has_preview"]


def test_viewers_see_no_upload_box(client, personas) -> None:
    client.force_login(personas["victor"])
    assert b'id="dropzone"' not in client.get(f"/cases/{personas['case'].pk}/").content


def test_only_owners_change_members_from_the_page(client, personas) -> None:
    client.force_login(personas["bob"])
    client.post(f"/cases/{personas['case'].pk}/members/", {"username": "charlie", "role": "owner"})
    assert not CaseMembership.objects.filter(case=personas["case"], user=personas["charlie"]).exists()
    client.force_login(personas["alice"])
    client.post(f"/cases/{personas['case'].pk}/members/", {"username": "charlie", "role": "viewer"})
    assert CaseMembership.objects.get(case=personas["case"], user=personas["charlie"]).role == "viewer"


def test_health_endpoint(client, db) -> None:
    assert client.get("/health/").json() == {"ok": True}


def test_security_headers_are_set(client, db) -> None:
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_case_page_pages_media_by_keyset_and_keeps_page_numbers(client, personas) -> None:
    import re

    from retrieval.models import MediaItem
    from retrieval.views import MEDIA_PAGE_SIZE

    case = personas["case"]
    MediaItem.objects.bulk_create([
        MediaItem(case=case, original_name=f"item-{i:03d}.bin", sha256=f"{i:064x}", size=1, status="ready")
        for i in range(MEDIA_PAGE_SIZE + 5)
    ])
    order = list(MediaItem.objects.filter(case=case).order_by("-uploaded_at", "-id").values_list("original_name",
                                                                                                 flat=True))
    client.force_login(personas["victor"])
    first = client.get(f"/cases/{case.pk}/").content.decode()
    shown = re.findall(r"item-\d{3}\.bin", first)
    assert sorted(set(shown)) == sorted(order[:MEDIA_PAGE_SIZE])
    older = re.search(r'href="\?after=(\d+)" rel="next"', first)
    assert older and f"{MEDIA_PAGE_SIZE + 5} total" in first
    second = client.get(f"/cases/{case.pk}/?after={older.group(1)}").content.decode()
    assert sorted(set(re.findall(r"item-\d{3}\.bin", second))) == sorted(order[MEDIA_PAGE_SIZE:])
    assert "← Newest" in second and 'rel="next"' not in second
    # an id from another case is ignored (first page), never an error or a leak
    other = MediaItem.objects.create(case=personas["other_case"], original_name="secret.bin", sha256="a" * 64, size=1)
    assert "secret.bin" not in client.get(f"/cases/{case.pk}/?after={other.pk}").content.decode()
    assert client.get(f"/cases/{case.pk}/?page=2").status_code == 200
