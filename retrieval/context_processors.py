"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from retrieval.services.watchlists import unread_count


def alerts(request: HttpRequest) -> dict[str, Any]:
    """Unread (new) alert count for the navigation badge; one indexed count query."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_alerts": unread_count(user)}
