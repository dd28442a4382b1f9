"""Regression tests for server errors and leaks found by the permission matrix and schemathesis."""

from __future__ import annotations

import pytest

from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db


def test_extra_api_actions_accept_the_format_suffix(api, personas) -> None:
    media_id = upload(api("alice"), personas["case"].pk, "a.png", samples.png_bytes()).json()[0]["media"]["id"]
    process_inline(media_id)
    case_id = personas["case"].pk
    assert api("alice").get(f"/api/v1/cases/{case_id}/members.json").status_code == 200
    assert api("alice").get(f"/api/v1/media/{media_id}/status.json").status_code == 200
    assert api("alice").get(f"/api/v1/media/{media_id}/preview.json").status_code == 200
    assert api("charlie").get(f"/api/v1/media/{media_id}/download.json").status_code == 404


def test_admin_shows_staff_neither_other_cases_audit_details_nor_related_object_names(client, api, personas) -> None:
    upload(api("alice"), personas["case"].pk, "secret-name.png", samples.png_bytes())
    from retrieval.models import AuditEvent

    event = AuditEvent.objects.filter(case_id=personas["case"].pk, action="media.upload").get()
    client.force_login(personas["staff"])
    assert client.get(f"/admin/retrieval/auditevent/{event.pk}/change/").status_code == 302
    assert b"secret-name" not in client.get("/admin/retrieval/auditevent/").content
    page = client.get(f"/admin/auth/user/{personas['alice'].pk}/delete/")
    assert page.status_code == 200 and b"Harbour break-in" not in page.content and b"secret-name" not in page.content


@pytest.mark.parametrize(("value", "status"), [
    ("0093-07-08T06:32:10.570730-22:24", 200),  # found by schemathesis: PostgreSQL refused the offset (500)
    ("not-a-date", 400), ("2026-13-45T00:00:00", 400), ("0001-01-01T00:00:00+10:00", 400),
])
def test_odd_date_filters_answer_200_or_400_never_500(api, personas, value: str, status: int) -> None:
    for name in ("uploaded_after", "uploaded_before"):
        response = api("alice").get("/api/v1/media/", {name: value})
        assert response.status_code == status, response.content
        if status == 400:
            assert name in str(response.json())


def test_good_date_filters_still_work(api, personas) -> None:
    upload(api("alice"), personas["case"].pk, "a.png", samples.png_bytes())
    assert api("alice").get("/api/v1/media/", {"uploaded_after": "2000-01-01T00:00:00+02:00"}).json()["count"] == 1
    assert api("alice").get("/api/v1/media/", {"uploaded_before": "2000-01-01T00:00:00"}).json()["count"] == 0


def test_a_username_with_a_nul_character_is_refused_not_a_server_error(api, personas, client) -> None:
    """Found by the long schemathesis run: JSON lookups and JSONB cannot hold U+0000 (500 before)."""
    response = api(None).post("/api/v1/auth/token/", {"username": "al\x00ice", "password": "x"}, format="json")
    assert response.status_code == 400
    assert client.post("/login/", {"username": "bo\x00b", "password": "x"}).status_code == 200


def test_audit_details_with_nul_characters_are_stored() -> None:
    from retrieval.services import audit

    event = audit.record("test.nul", details={"name": "a\x00b", "list": ["c\x00"]})
    event.refresh_from_db()
    assert event.details == {"name": "a\ufffdb", "list": ["c\ufffd"]}
