"""Cases and memberships through /api/v1/, with the permission matrix."""

from __future__ import annotations

import pytest

from retrieval.models import AuditEvent, CaseMembership

pytestmark = pytest.mark.django_db


def test_it_makes_the_creator_owner(api) -> None:
    response = api("charlie").post("/api/v1/cases/", {"title": "New", "description": "d"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["my_role"] == "owner"
    assert AuditEvent.objects.filter(action="case.create", case_id=response.json()["id"]).exists()


def test_it_lists_only_cases_the_user_belongs_to(api, personas) -> None:
    titles = {c["title"] for c in api("bob").get("/api/v1/cases/").json()["results"]}
    assert titles == {"Harbour break-in"}
    assert api("staff").get("/api/v1/cases/").json()["results"] == []


@pytest.mark.parametrize("who", ["charlie", "staff"])
def test_it_answers_404_to_outsiders(api, personas, who: str) -> None:
    case_id = personas["case"].pk
    assert api(who).get(f"/api/v1/cases/{case_id}/").status_code == 404
    assert api(who).get(f"/api/v1/cases/{case_id}/members/").status_code == 404
    assert api(who).patch(f"/api/v1/cases/{case_id}/", {"title": "x"}, format="json").status_code == 404


def test_it_requires_authentication(api, personas) -> None:
    assert api(None).get("/api/v1/cases/").status_code in (401, 403)


def test_owner_adds_and_removes_members(api, personas, make_user) -> None:
    make_user("dora")
    case_id = personas["case"].pk
    added = api("alice").post(f"/api/v1/cases/{case_id}/members/", {"username": "dora", "role": "viewer"},
                              format="json")
    assert added.status_code == 201, added.content
    assert CaseMembership.objects.get(case_id=case_id, user__username="dora").role == "viewer"
    assert api("alice").delete(f"/api/v1/cases/{case_id}/members/dora/").status_code == 204
    assert not CaseMembership.objects.filter(case_id=case_id, user__username="dora").exists()


def test_non_owners_cannot_manage_members(api, personas) -> None:
    case_id = personas["case"].pk
    response = api("bob").post(f"/api/v1/cases/{case_id}/members/", {"username": "charlie", "role": "owner"},
                               format="json")
    assert response.status_code == 403


def test_the_last_owner_cannot_leave(api, personas) -> None:
    case_id = personas["case"].pk
    response = api("alice").delete(f"/api/v1/cases/{case_id}/members/alice/")
    assert response.status_code == 400
    assert "at least one owner" in response.content.decode()


def test_viewers_cannot_edit_a_case(api, personas) -> None:
    response = api("victor").patch(f"/api/v1/cases/{personas['case'].pk}/", {"title": "x"}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("payload", [{}, {"title": ""}, {"title": "  "}, {"title": ["a"]}, {"status": "bogus"}])
def test_it_rejects_bad_payloads_with_400(api, payload) -> None:
    response = api("alice").post("/api/v1/cases/", payload, format="json")
    assert response.status_code == 400, response.content


def test_it_serves_the_openapi_schema_and_docs(api, client, personas) -> None:
    schema = api("alice").get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/media/" in schema.content
    client.force_login(personas["alice"])
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
