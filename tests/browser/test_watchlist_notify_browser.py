"""Choosing who is notified about a watchlist's alerts, in real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.models import CaseRole
from retrieval.services import cases, watchlists
from tests.browser.conftest import log_in, screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_tick_a_member_to_notify_and_save(live_server, browser_page, django_user_model, tmp_path: Path) -> None:
    alice = django_user_model.objects.create_user("alice", password="correct horse 1")
    bob = django_user_model.objects.create_user("bob", password="x")
    victor = django_user_model.objects.create_user("victor", password="x")
    case = cases.create_case(actor=alice, title="Harbour break-in")
    cases.set_member(actor=alice, case=case, user=bob, role=CaseRole.INVESTIGATOR)
    cases.set_member(actor=alice, case=case, user=victor, role=CaseRole.VIEWER)
    wl = watchlists.create_watchlist(actor=alice, case=case, name="Ransom phrases", kind="keyword")
    watchlists.add_entry(actor=alice, watchlist=wl, label="tomorrow at six")
    shots = screenshot_dir(tmp_path)
    page = browser_page
    log_in(page, live_server.url, "alice", "correct horse 1")

    page.goto(f"{live_server.url}/watchlists/{wl.pk}/")
    assert page.is_checked("input[name=notify_users][value=alice]")
    assert not page.is_checked("input[name=notify_users][value=victor]")
    page.check("label:has-text('victor') >> input")
    page.click("text=Save notifications")
    page.wait_for_selector("text=Notified: alice, victor.")
    assert page.is_checked("input[name=notify_users][value=victor]")
    page.screenshot(path=str(shots / "watchlist-notify.png"), full_page=True)
    assert sorted(wl.notify_users.values_list("username", flat=True)) == ["alice", "victor"]

    page.click("nav >> text=Watchlists")
    page.wait_for_selector("td:has-text('alice, victor')")
    assert page.is_checked("#id_notify_me")
    page.screenshot(path=str(shots / "watchlist-list-notified.png"), full_page=True)
