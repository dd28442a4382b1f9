"""Every URL pattern of the site, enumerated from the root resolver, with its keyword arguments filled.

Used by the permission matrix and the CSRF test: a URL added later is covered automatically, and one
with a keyword argument nobody mapped fails those tests with a message saying where to add it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize

#: (route glob, kwarg) → fixture token. First match wins. Routes are written as ``api/v1/cases/<pk>/``.
#: A new URL with a keyword argument needs a line here (and, for a new kind of object, a token in ``_tokens``).
KWARG_FIXTURES: list[tuple[str, str, str]] = [
    ("api/v1/<format>", "format", "dotted_format"),  # the API root's group includes the dot
    ("*", "format", "format"),
    ("api/v1/cases/<pk>*", "pk", "case"),
    ("api/v1/cases/<pk>/members/<username>*", "username", "member_username"),
    ("api/v1/media/<pk>*", "pk", "media"),
    ("api/v1/audit/<pk>*", "pk", "audit"),
    ("cases/<pk>/*", "pk", "case"),
    ("media/<pk>/*", "pk", "media"),
    ("alerts/<pk>/", "pk", "alert"),
    ("api/v1/alerts/<pk>*", "pk", "alert"),
    ("watchlists/<pk>/", "pk", "watchlist"),
    ("api/v1/watchlists/<pk>*", "pk", "watchlist"),
    ("persons/<pk>/", "pk", "person"),
    ("api/v1/persons/<pk>*", "pk", "person"),
    ("subjects/<pk>/", "pk", "subject"),
    ("api/v1/subjects/<pk>*", "pk", "subject"),
    ("api/v1/fingerprints/<pk>/*", "pk", "media"),
    ("audio-events/<pk>/similar/", "pk", "finding"),
    ("api/v1/audio-events/<pk>/similar/", "pk", "finding"),
    ("faces/crop/<finding_id>.jpg", "finding_id", "finding"),
    ("media/<pk>/transcript.<fmt>", "fmt", "export_format"),
    ("search/saved/<pk>/delete/", "pk", "saved_search"),
    ("references/<pk>/", "pk", "reference_collection"),
    ("api/v1/reference-collections/<pk>*", "pk", "reference_collection"),
    ("references/recordings/<pk>/file/", "pk", "reference_recording"),
    ("api/v1/reference-recordings/<pk>*", "pk", "reference_recording"),
    ("admin/r/<content_type_id>/<object_id>/", "content_type_id", "case_content_type"),
    ("admin/r/<content_type_id>/<object_id>/", "object_id", "case"),
    ("admin/retrieval/auditevent/<object_id>/*", "object_id", "audit"),
    ("admin/*", "object_id", "first_row"),
    ("admin/*", "app_label", "app_label"),
    ("admin/<url>", "url", "missing_page"),
    ("admin/auth/user/<id>/password/", "id", "alice_user"),
]
#: Tokens that address Alice's case data: outsiders must be denied, members must find the object.
CASE_TOKENS = {"case", "media", "audit", "member_username", "alert", "watchlist", "person", "subject", "finding",
               "reference_collection", "reference_recording"}
#: Routes that address a plugin's own output (a processed print, an audio event, a face): the matrix's generic
#: finding is none of these, so a member's 404 is right there; outsiders are still checked to be denied.
MEMBER_404_OK = {"fingerprint-api-print", "fingerprint-api-dpi", "fingerprint-api-template", "audio-event-similar",
                 "audio-event-similar-api", "face-crop", "fingerprint-template", "fingerprint-identify",
                 "fingerprint-image", "media-spectrogram"}
#: Tokens whose value does not depend on the test data.
CONSTANT_TOKENS = {"format": "json", "dotted_format": ".json", "app_label": "retrieval", "export_format": "srt",
                   "missing_page": "no-such-page/"}


@dataclass(frozen=True)
class Route:
    route: str  # readable form, e.g. "api/v1/cases/<pk>/"
    template: str  # "%(pk)s" form for filling in
    params: tuple[str, ...]
    name: str
    view: str


def _walk(patterns: list[Any], prefix: str = "", names: str = "") -> Iterator[tuple[str, Any, str]]:
    for p in patterns:
        regex = p.pattern.regex.pattern.removeprefix("^")
        if isinstance(p, URLResolver):
            ns = f"{names}{p.namespace}:" if p.namespace else names
            yield from _walk(p.url_patterns, prefix + regex, ns)
        elif isinstance(p, URLPattern):
            yield prefix + regex, p, names + (p.name or "")


def all_routes() -> list[Route]:
    routes: dict[str, Route] = {}
    for regex, pattern, name in _walk(get_resolver().url_patterns):
        callback = pattern.callback
        view = f"{callback.__module__}.{getattr(callback, '__qualname__', callback.__name__)}"
        for template, params in normalize(regex):
            readable = template
            for param in params:
                readable = readable.replace(f"%({param})s", f"<{param}>")
            routes.setdefault(readable, Route(readable, template, tuple(params), name, view))
    return sorted(routes.values(), key=lambda r: r.route)


def token_for(route: Route, kwarg: str) -> str:
    for glob, name, token in KWARG_FIXTURES:
        if name == kwarg and fnmatch.fnmatchcase(route.route, glob):
            return token
    pytest.fail(
        f"URL pattern {route.route!r} (name {route.name!r}, view {route.view}) has the keyword argument "
        f"{kwarg!r}, which the permission matrix cannot fill. Add a line (route glob, {kwarg!r}, token) to "
        f"KWARG_FIXTURES in tests/urlmatrix.py (and a token in _tokens() that points "
        f"to an object of Alice's case), so that every persona is checked against it."
    )
