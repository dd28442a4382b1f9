"""The one way pages look up a case or a media item by id: visible to the user, else 404 (never 403)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404

from retrieval.models import Case, MediaItem


def visible_case_or_404(user: Any, pk: Any) -> Case:
    return get_object_or_404(Case.objects.visible_to(user), pk=pk)


def visible_media_or_404(user: Any, pk: Any) -> MediaItem:
    return get_object_or_404(MediaItem.objects.visible_to(user).select_related("case"), pk=pk)
