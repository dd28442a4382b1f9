"""Who is notified about a watchlist's alerts: members of its case only, chosen by owners and
investigators (service, page, API), and e-mail only to those who can still see the alert."""

from __future__ import annotations

import pytest
from django.core import mail

from retrieval.models import AuditEvent
from retrieval.services import cases, notifications, watchlists
from tests.integration.test_watchlists import _keyword_list, _media, _speech

pytestmark = pytest.mark.django_db


def _notified(wl: watchlists.Watchlist) -> list[str]:
    return sorted(wl.notify_users.values_list("username", flat=True))


def test_creator_is_notified_by_default_and_members_of_any_role_can_be_chosen(personas) -> None:
    wl = _keyword_list(personas, "bank")
    assert _notified(wl) == ["alice"]
    users = watchlists.set_notified_users(actor=personas["bob"], watchlist=wl, usernames=["victor", "alice", " "])
    assert [u.username for u in users] == ["alice", "victor"]  # a viewer sees alerts, so may be told
    assert _notified(wl) == ["alice", "victor"]
    event = AuditEvent.objects.get(action="watchlist.notify_users", target_id=str(wl.pk))
    assert event.details == {"from": ["alice"], "to": ["alice", "victor"]}
    assert event.actor_name == "bob"
    watchlists.set_notified_users(actor=personas["alice"], watchlist=wl, usernames=[])
    assert _notified(wl) == []


def test_outsiders_are_refused_by_name_and_viewers_cannot_change_it(personas) -> None:
    wl = _keyword_list(personas, "bank")
    for name in ("charlie", "nobody-such"):  # an outsider and an unknown account get the same answer
        with pytest.raises(watchlists.NotACaseMember, match=f"Harbour break-in.*{name}"):
            watchlists.set_notified_users(actor=personas["alice"], watchlist=wl, usernames=["bob", name])
    with pytest.raises(PermissionError):
        watchlists.set_notified_users(actor=personas["victor"], watchlist=wl, usernames=["victor"])
    with pytest.raises(PermissionError):
        watchlists.set_notified_users(actor=personas["charlie"], watchlist=wl, usernames=[])
    with pytest.raises(watchlists.NotACaseMember):
        watchlists.create_watchlist(actor=personas["alice"], case=personas["case"], name="x", kind="keyword",
                                    notify_usernames=["charlie"])
    assert _notified(wl) == ["alice"]
    assert not AuditEvent.objects.filter(action="watchlist.notify_users").exists()


def test_email_goes_to_every_chosen_member_who_can_still_see_the_alert(api, personas, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for name in ("alice", "bob", "victor", "charlie"):
        personas[name].email = f"{name}@example.org"
        personas[name].save()
    wl = _keyword_list(personas, "bank")
    watchlists.set_notified_users(actor=personas["alice"], watchlist=wl, usernames=["alice", "bob", "victor"])
    media = _media(api, personas)
    _speech(media, (1.0, "banco", "bank"))
    [alert] = watchlists.evaluate_media(media, "speech_translation", "v-test")
    assert notifications.notify(alert.pk)["emails"] == 3
    assert sorted(mail.outbox[0].to) == ["alice@example.org", "bob@example.org", "victor@example.org"]

    # Bob leaves the evidence case after being chosen: he is no longer told about its alerts.
    cases.remove_member(actor=personas["alice"], case=personas["case"], user=personas["bob"])
    assert _notified(wl) == ["alice", "bob", "victor"]  # still on the list, filtered at sending time
    _speech(media, (1.0, "banco", "bank"), (8.0, "banco otra vez", "the bank again"))
    [second] = watchlists.evaluate_media(media, "speech_translation", "v-test")
    assert notifications.notify(second.pk)["emails"] == 2
    assert sorted(mail.outbox[1].to) == ["alice@example.org", "victor@example.org"]


def test_api_notify_users_round_trip_and_outsider_is_400(api, personas) -> None:
    body = {"case": personas["case"].pk, "name": "Sirens", "kind": "event_type"}
    created = api("bob").post("/api/v1/watchlists/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["notify_users"] == ["bob"]  # omitted: the creator
    wl_id = created.json()["id"]
    url = f"/api/v1/watchlists/{wl_id}/"
    response = api("bob").patch(url, {"notify_users": ["victor", "alice"]}, format="json")
    assert response.status_code == 200, response.content
    assert api("victor").get(url).json()["notify_users"] == ["alice", "victor"]

    refused = api("bob").patch(url, {"notify_users": ["alice", "charlie"], "name": "Renamed"}, format="json")
    assert refused.status_code == 400
    assert "charlie" in refused.json()["notify_users"][0]
    after = api("bob").get(url).json()
    assert after["notify_users"] == ["alice", "victor"] and after["name"] == "Sirens"  # nothing half-saved
    assert api("victor").patch(url, {"notify_users": ["victor"]}, format="json").status_code == 403

    explicit = api("alice").post("/api/v1/watchlists/", {**body, "notify_users": []}, format="json")
    assert explicit.status_code == 201 and explicit.json()["notify_users"] == []
    outsider = api("alice").post("/api/v1/watchlists/", {**body, "notify_users": ["charlie"]}, format="json")
    assert outsider.status_code == 400 and "charlie" in outsider.json()["notify_users"][0]


def test_pages_choose_notified_members_and_list_shows_them(client, personas) -> None:
    wl = _keyword_list(personas, "bank")
    client.force_login(personas["bob"])
    page = client.get(f"/watchlists/{wl.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="notify_users" value="alice" checked' in html and 'value="victor" >' in html
    assert "Viewer" in html and "Owner" in html
    response = client.post(f"/watchlists/{wl.pk}/", {"action": "notify", "notify_users": ["bob", "victor"]},
                           follow=True)
    assert b"Notified: bob, victor." in response.content
    assert _notified(wl) == ["bob", "victor"]
    response = client.post(f"/watchlists/{wl.pk}/", {"action": "notify", "notify_users": ["charlie"]}, follow=True)
    assert "not a member of case" in response.content.decode() and _notified(wl) == ["bob", "victor"]
    listing = client.get("/watchlists/").content.decode()
    assert "bob, victor" in listing

    client.force_login(personas["victor"])
    viewer_page = client.get(f"/watchlists/{wl.pk}/").content.decode()
    assert 'name="notify_users"' not in viewer_page and "Who is notified" in viewer_page
    client.post(f"/watchlists/{wl.pk}/", {"action": "notify", "notify_users": ["victor"]})
    assert _notified(wl) == ["bob", "victor"]


def test_new_watchlist_form_notifies_me_unless_unticked(client, personas) -> None:
    client.force_login(personas["bob"])
    form = {"case": personas["case"].pk, "name": "Mine", "kind": "keyword"}
    client.post("/watchlists/new/", {**form, "notify_me": "1"})
    client.post("/watchlists/new/", {**form, "name": "Quiet"})
    assert {wl.name: _notified(wl) for wl in watchlists.Watchlist.objects.all()} == {"Mine": ["bob"], "Quiet": []}
