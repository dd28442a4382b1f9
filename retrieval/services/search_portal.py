"""The search portal: every way of asking in one place, and saved searches.

Features register their search modes (``register_search_mode``) from their
``retrieval/features/<topic>.py`` module; the portal lists them with a short
explanation of what each one answers. Saved searches store only a local path and
query string, validated so that a saved link can never point off-site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.urls import Resolver404, resolve

from retrieval.models.searches import SavedSearch


@dataclass(frozen=True)
class SearchMode:
    key: str
    title: str
    description: str  # what question it answers, one sentence
    url_name: str  # the page (GET form) of this mode
    asks_with: str  # "photo", "audio clip", "fingerprint image", "words", "event types", "item"
    order: int = 100


_MODES: dict[str, SearchMode] = {}


def register_search_mode(mode: SearchMode) -> SearchMode:
    _MODES[mode.key] = mode
    return mode


def search_modes() -> list[SearchMode]:
    return sorted(_MODES.values(), key=lambda m: (m.order, m.title))


def save_search(*, owner: Any, name: str, url: str) -> SavedSearch:
    """Save ``url`` (a local search page with its query string) under ``name``; same name = replace."""
    name = name.strip()[:200]
    if not name:
        raise ValueError("give the search a name")
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        raise ValueError("only searches on this site can be saved")
    try:
        resolve(parts.path)
    except Resolver404 as exc:
        raise ValueError("not a page of this site") from exc
    if len(parts.query) > 2000:
        raise ValueError("the search is too long to save")
    try:
        with transaction.atomic():
            saved, _ = SavedSearch.objects.update_or_create(owner=owner, name=name,
                                                            defaults={"path": parts.path, "query": parts.query})
    except IntegrityError as exc:  # concurrent save with the same name
        raise ValueError("a saved search with that name was just created; try again") from exc
    return saved
