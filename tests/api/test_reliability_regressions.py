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
