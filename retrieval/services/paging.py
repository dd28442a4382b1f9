"""Keyset ("seek") pagination for lists ordered newest first by ``(-uploaded_at, -id)``.

``?after=<id of the last item shown>`` reads the next page straight from the
``(case, -uploaded_at, -id)`` index: the cost does not grow with the depth
(OFFSET does: it walks and discards every earlier row), and items uploaded
meanwhile do not shift the pages still to come.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet


@dataclass(frozen=True)
class KeysetPage:
    object_list: list[Any]
    next_after: int | None  # pass as ``after`` for the next page; None on the last page
    is_first: bool


def newest_first_page(qs: QuerySet, after: str | None, size: int) -> KeysetPage:
    """The ``size`` items of ``qs`` after the item with id ``after`` in ``(-uploaded_at, -id)`` order.

    An unknown or foreign ``after`` (not in ``qs``) gives the first page, so links never leak or break.
    """
    ordered = qs.order_by("-uploaded_at", "-id")
    anchor = None
    if after and str(after).isdigit():
        anchor = qs.filter(pk=int(after)).values("uploaded_at", "id").first()
    if anchor:
        ordered = ordered.filter(Q(uploaded_at__lt=anchor["uploaded_at"])
                                 | Q(uploaded_at=anchor["uploaded_at"], id__lt=anchor["id"]))
    rows = list(ordered[: size + 1])
    next_after = rows[size - 1].pk if len(rows) > size else None
    return KeysetPage(rows[:size], next_after, anchor is None)
