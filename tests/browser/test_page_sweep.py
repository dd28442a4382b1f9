"""Every HTML page of the site in real headless Chromium, as the case owner, at 1280 px and at 420 px.

Checked on each page: every form control has a label (``<label for>``, a wrapping label, ``aria-label``,
``aria-labelledby`` or ``title``), every button and link has a name, everything clickable is reachable with
the keyboard, and a narrow window never scrolls sideways as a whole (wide tables scroll inside themselves).
Pages come from the root resolver (the permission matrix's route list and data), so a page added later is
swept automatically. Non-HTML routes (files, images, JSON, exports) and POST-only routes are left out by
their answer to a GET, not by a list.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.test import Client

from tests.browser.conftest import log_in, screenshot_dir
from tests.integration.test_permission_matrix import _tokens, world  # noqa: F401 - fixture
from tests.urlmatrix import all_routes, token_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Route prefixes that are not investigator pages (their own suites cover them).
NOT_PAGES = ("api/", "admin/", "static/", "__")

#: Pages whose result state differs from the empty form.
WITH_RESULTS = [("transcript-search", "/search/transcripts/?q=said"),
                ("audio-event-search", "/audio-events/?type=siren"),
                ("case-list", "/cases/?q=harbour"), ]

AUDIT_JS = """() => {
  const problems = [];
  const text = el => (el.textContent || '').trim();
  const named = el => !!(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.getAttribute('title')
      || (el.labels && Array.from(el.labels).some(l => text(l))));
  const show = el => el.outerHTML.slice(0, 140);
  for (const el of document.querySelectorAll('input, select, textarea')) {
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
    if (!named(el)) problems.push('control without a label: ' + show(el));
  }
  for (const el of document.querySelectorAll('button, input[type=submit], input[type=button]')) {
    if (!(text(el) || el.value || el.getAttribute('aria-label') || el.getAttribute('title')))
      problems.push('button without a name: ' + show(el));
  }
  for (const el of document.querySelectorAll('a[href]')) {
    const img = el.querySelector('img[alt]');
    if (!(text(el) || el.getAttribute('aria-label') || el.getAttribute('title') || (img && img.alt)))
      problems.push('link without a name: ' + show(el));
  }
  const focusable = 'a[href], button, input, select, textarea, summary, [tabindex]';
  for (const el of document.querySelectorAll('[onclick], [role=button], [role=link], [role=tab]')) {
    if (!el.matches(focusable) || el.tabIndex < 0) problems.push('clickable but not keyboard-reachable: ' + show(el));
  }
  return problems;
}"""

OVERFLOW_JS = """() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width + 1) return [];
  const scrolls = el => { for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
    return false; };
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > width + 1 && !scrolls(el)) {
      culprits.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                    (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') +
                    ' right=' + Math.round(r.right));
      if (culprits.length > 4) break;
    }
  }
  return ['page scrolls sideways at ' + width + ' px (' + document.documentElement.scrollWidth + ' px wide): '
          + culprits.join(', ')];
}"""


def _html_pages(world: dict[str, Any], personas: dict[str, Any]) -> list[tuple[str, str]]:  # noqa: F811
    """(route name, URL) of every route that answers the owner's GET with an HTML page."""
    tokens = _tokens(world, personas)
    client = Client()
    client.force_login(personas["alice"])
    pages = []
    for route in all_routes():
        if route.route.startswith(NOT_PAGES):
            continue
        url = "/" + route.template % {p: tokens[token_for(route, p)]() for p in route.params}
        response = client.get(url)
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            pages.append((route.name, url))
    return pages


def test_every_page_is_labelled_keyboard_reachable_and_fits_a_narrow_window(
        live_server, browser_page, personas, world, tmp_path) -> None:  # noqa: F811
    pages = _html_pages(world, personas)
    assert len(pages) >= 24, pages  # the sweep must not quietly shrink (24 pages when it was written)
    pages += [(f"{name} (results)", url) for name, url in WITH_RESULTS]
    page = browser_page
    log_in(page, live_server.url, "alice", "pw-alice")
    shots = screenshot_dir(tmp_path)
    problems: list[str] = []
    for width in (1280, 420):
        page.set_viewport_size({"width": width, "height": 900})
        for name, url in pages:
            page.goto(live_server.url + url)
            page.wait_for_load_state("networkidle")
            found = page.evaluate(OVERFLOW_JS) + (page.evaluate(AUDIT_JS) if width == 1280 else [])
            if found or os.environ.get("MMSEC_SWEEP_SHOTS"):  # every page, to look at them
                page.screenshot(path=str(shots / f"sweep-{width}-{name or 'page'}.png"), full_page=True)
                problems += [f"{url} ({name}, {width} px): {p}" for p in found]
    assert not problems, "\n".join(problems)
