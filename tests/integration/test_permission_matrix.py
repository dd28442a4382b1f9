"""Permission matrix: every URL pattern of the site × every persona.

The URL list is not written by hand: it is enumerated from the root resolver
(pages, /api/v1/, admin, schema), so a URL added later is covered
automatically. Each URL keyword argument is filled from ``KWARG_FIXTURES``; a
pattern with a keyword this table does not know FAILS the test and says which
line to add (``tests/urlmatrix.py``). Outsiders (an investigator of another case, a staff superuser
without membership, anonymous) must never receive case data: their answers may
be 302 (to the login page), 401, 403, 404 or 405, or a page without any marker
of Alice's case (a case list with only their own cases, the admin index…).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from retrieval.models import (
    AuditEvent,
    Case,
    CaseMembership,
    Finding,
    MediaItem,
    Person,
    ReferenceCollection,
    ReferenceRecording,
    Subject,
)
from retrieval.services import embeddings, search, search_portal, watchlists
from tests import samples
from tests.helpers import process_inline, upload
from tests.urlmatrix import CASE_TOKENS, CONSTANT_TOKENS, MEMBER_404_OK, Route, all_routes, token_for

pytestmark = pytest.mark.django_db

MARK = "zqx7-alice-only"  # appears in Alice's case title, description, file name, finding label and text
OUTSIDERS = ("charlie", "staff", None)  # None = anonymous
MEMBERS = ("alice", "victor")
METHODS = ("get", "post", "put", "patch", "delete")
DENIED = {302, 401, 403, 404, 405}

@pytest.fixture
def world(api, personas) -> dict[str, Any]:
    """Alice's case with a processed image, findings with vectors, audit rows; Charlie's case with the same vector."""
    case: Case = personas["case"]
    Case.objects.filter(pk=case.pk).update(title=f"Harbour break-in {MARK}", description=f"notes {MARK}")
    media_id = upload(api("alice"), case.pk, f"{MARK}.png", samples.png_bytes(90, 60)).json()[0]["media"]["id"]
    media = process_inline(media_id)
    space = embeddings.get_or_create_space("matrix", "vec", "v1", 8)
    vector = np.linspace(0.1, 0.8, 8, dtype=np.float32)
    embeddings.store_findings(media, "matrix", "v1", [
        embeddings.NewFinding(key="0", space=space, vector=vector, label=f"label {MARK}", text=f"said {MARK}"),
    ])
    theirs = MediaItem.objects.create(case=personas["other_case"], original_name="charlie.png", sha256="c" * 64,
                                      size=1, kind="image", status="ready")
    embeddings.store_findings(theirs, "matrix", "v1", [embeddings.NewFinding(key="0", space=space, vector=vector)])
    audit_row = AuditEvent.objects.filter(case_id=case.pk).exclude(details={}).first()
    assert audit_row is not None
    watchlist = watchlists.create_watchlist(actor=personas["alice"], case=case, name=f"list {MARK}", kind="keyword")
    watchlists.add_entry(actor=personas["alice"], watchlist=watchlist, label=MARK)
    embeddings.store_findings(media, "speech_translation", "v1", [
        embeddings.NewFinding(key="audio:0:0", text=f"said {MARK}", start_s=0.0, end_s=1.0)])
    [alert] = watchlists.evaluate_media(media, "speech_translation", "v1")
    person = Person.objects.create(case=case, space=space, number=1, name=f"person {MARK}")
    subject = Subject.objects.create(case=case, name=f"subject {MARK}")
    saved = search_portal.save_search(owner=personas["alice"], name=f"saved {MARK}", url="/alerts/")
    collection = ReferenceCollection.objects.create(case=case, name=f"refs {MARK}")
    recording = ReferenceRecording.objects.create(collection=collection, title=f"{MARK}.wav", sha256=media.sha256,
                                                  size=media.size)
    return {"case": case, "media": media, "space": space, "vector": vector, "theirs": theirs,
            "finding": Finding.objects.get(media=media, plugin="matrix"), "audit": audit_row,
            "original": media.sha256, "original_bytes": samples.png_bytes(90, 60), "alert": alert,
            "watchlist": watchlist, "person": person, "subject": subject, "saved_search": saved,
            "reference_collection": collection, "reference_recording": recording}


def _tokens(world: dict[str, Any], personas: dict[str, Any]) -> dict[str, Callable[[], object]]:
    return {
        **{name: (lambda value=value: value) for name, value in CONSTANT_TOKENS.items()},
        "case": lambda: world["case"].pk,
        "media": lambda: world["media"].pk,
        "audit": lambda: world["audit"].pk,
        "member_username": lambda: "bob",
        "case_content_type": lambda: ContentType.objects.get_for_model(Case).pk,
        "first_row": lambda: 1,
        "alice_user": lambda: personas["alice"].pk,
        "alert": lambda: world["alert"].pk,
        "watchlist": lambda: world["watchlist"].pk,
        "person": lambda: world["person"].pk,
        "subject": lambda: world["subject"].pk,
        "finding": lambda: world["finding"].pk,
        "saved_search": lambda: world["saved_search"].pk,
        "reference_collection": lambda: world["reference_collection"].pk,
        "reference_recording": lambda: world["reference_recording"].pk,
    }


def _body(response: Any) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def _leaks(body: bytes, world: dict[str, Any]) -> list[str]:
    found = []
    for marker in (MARK.encode(), world["original"].encode()):
        if marker in body:
            found.append(marker.decode())
    if world["original_bytes"] in body:
        found.append("the original file's bytes")
    return found


def _client(personas: dict[str, Any], who: str | None) -> Client:
    client = Client(raise_request_exception=False)  # a 500 is reported with the others, not raised
    if who:
        client.force_login(personas[who])
    return client


def _final_redirect(client: Client, response: Any) -> str:
    """Follow same-site redirects (``/`` → ``/cases/`` → ``/login/``) and return the last location."""
    location = response["Location"]
    for _ in range(4):
        if "/login/" in location or not location.startswith("/"):
            break
        nxt = client.get(location)
        if nxt.status_code != 302:
            break
        location = nxt["Location"]
    return location


def _snapshot() -> tuple[object, ...]:
    return (
        sorted(CaseMembership.objects.values_list("case_id", "user_id", "role")),
        sorted(Case.objects.values_list("id", "title", "description", "status")),
        MediaItem.objects.count(), Finding.objects.count(),
    )


def test_every_url_pattern_is_closed_to_outsiders_and_open_to_members(world, personas) -> None:
    routes = all_routes()
    assert len(routes) > 30, "the resolver walk found too few URL patterns"
    tokens = _tokens(world, personas)
    before = _snapshot()
    problems: list[str] = []
    checked = 0
    for route in routes:
        used = {param: token_for(route, param) for param in route.params}
        url = "/" + route.template % {p: tokens[t]() for p, t in used.items()}
        case_scoped = bool(set(used.values()) & CASE_TOKENS)
        is_admin = route.route.startswith("admin/")
        methods = ("get",) if is_admin else METHODS
        for who in (*OUTSIDERS, *MEMBERS):
            for method in methods:
                if who in MEMBERS and method != "get":
                    continue  # members' writes are covered by the feature tests
                client = _client(personas, who)
                response = getattr(client, method)(url)
                body = _body(response)
                checked += 1
                where = f"{method.upper()} {url} as {who or 'anonymous'} ({route.view})"
                if response.status_code >= 500:
                    problems.append(f"{where}: server error {response.status_code}")
                    continue
                if who in MEMBERS:
                    if case_scoped and not is_admin and response.status_code == 404 and route.name not in MEMBER_404_OK:
                        problems.append(f"{where}: a member gets 404, the fixture does not address a real object")
                    continue
                leaks = _leaks(body, world)
                if leaks:
                    problems.append(f"{where}: answered {response.status_code} with case data {leaks}")
                if case_scoped and response.status_code not in DENIED:
                    problems.append(f"{where}: answered {response.status_code}, expected one of {sorted(DENIED)}")
                if who is None and response.status_code == 302:
                    location = _final_redirect(client, response)
                    if "/login/" not in location:
                        problems.append(f"{where}: anonymous redirected to {location}, not to a login page")
    assert not problems, f"{len(problems)} problem(s) in {checked} requests:\n" + "\n".join(problems)
    assert _snapshot() == before, "an outsider's request changed case data"


def test_an_unknown_url_kwarg_fails_with_a_hint() -> None:
    route = Route("alerts/<alert_id>/", "alerts/%(alert_id)s/", ("alert_id",), "alert-detail", "x.alert_detail")
    with pytest.raises(pytest.fail.Exception, match="Add a line .* to KWARG_FIXTURES"):
        token_for(route, "alert_id")


def test_search_by_example_never_returns_neighbours_from_invisible_cases(world, personas, api) -> None:
    vector = [float(x) for x in world["vector"]]
    # Charlie holds an identical vector in his own case: he finds only his own item.
    body = api("charlie").post("/api/v1/search/similar/", {"plugin": "matrix", "space": "vec", "vector": vector,
                                                            "k": 50}, format="json").json()
    assert [h["media_id"] for h in body["hits"]] == [world["theirs"].pk]
    # Alice's finding as the example: 404 for outsiders, as if it did not exist.
    for who in ("charlie", "staff"):
        response = api(who).post("/api/v1/search/similar/", {"plugin": "matrix", "space": "vec",
                                                              "finding": world["finding"].pk}, format="json")
        assert response.status_code == 404, who
        assert MARK.encode() not in response.content
    # Alice's own search excludes Charlie's identical vector; the filter is in the SQL, so k does not matter.
    hits = search.search_similar(personas["alice"], world["space"], world["vector"], k=1000).hits
    assert {h.case_id for h in hits} == {world["case"].pk}
    assert search.search_similar(personas["staff"], world["space"], world["vector"], k=1000).hits == []
    # The similar-media panel on Charlie's own media page does not show Alice's item.
    client = _client(personas, "charlie")
    page = client.get(f"/media/{world['theirs'].pk}/")
    assert page.status_code == 200 and MARK.encode() not in page.content
