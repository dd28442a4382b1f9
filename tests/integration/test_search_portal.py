"""Search portal and saved searches."""

from __future__ import annotations

import pytest

from retrieval.models import SavedSearch
from retrieval.services import search_portal

pytestmark = pytest.mark.django_db


def test_save_replace_and_refuse_offsite_links(personas) -> None:
    alice = personas["alice"]
    saved = search_portal.save_search(owner=alice, name="Night alerts", url="/alerts/?status=new&case=3")
    assert saved.url == "/alerts/?status=new&case=3"
    again = search_portal.save_search(owner=alice, name="Night alerts", url="/alerts/?status=confirmed")
    assert again.pk == saved.pk and SavedSearch.objects.get(pk=saved.pk).query == "status=confirmed"
    for bad in ("https://evil.example/alerts/", "//evil.example/x", "javascript:alert(1)", "/no-such-page/"):
        with pytest.raises(ValueError):
            search_portal.save_search(owner=alice, name="x", url=bad)
    with pytest.raises(ValueError):
        search_portal.save_search(owner=alice, name="  ", url="/alerts/")


def test_portal_lists_only_my_saved_searches_and_deletes_only_mine(client, personas) -> None:
    mine = search_portal.save_search(owner=personas["alice"], name="Mine", url="/alerts/")
    theirs = search_portal.save_search(owner=personas["charlie"], name="Theirs", url="/alerts/")
    client.force_login(personas["alice"])
    body = client.get("/search/").content.decode()
    assert "Mine" in body and "Theirs" not in body
    assert client.post(f"/search/saved/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/search/saved/{mine.pk}/delete/").status_code == 302
    assert not SavedSearch.objects.filter(pk=mine.pk).exists()
    response = client.post("/search/saved/", {"name": "Inbox", "url": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/search/"
    response = client.post("/search/saved/", {"name": "Inbox", "url": "/alerts/?status=new"})
    assert response["Location"] == "/alerts/?status=new"
    assert SavedSearch.objects.get(owner=personas["alice"], name="Inbox").query == "status=new"
