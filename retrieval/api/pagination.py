"""Pagination: page numbers (default, backward compatible) or keyset cursors (``?cursor=``).

``?page=N`` answers ``{count, next, previous, results}`` as before; its cost grows with N (OFFSET).
``?cursor=`` (empty for the first page) switches to keyset pagination on the view's ordering
(``-uploaded_at, -id`` for media): constant cost at any depth, stable while rows are added, and
``{next, previous, results}`` without the total count. ``next`` / ``previous`` are full links.
"""

from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response


class KeysetPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = ("-id",)  # replaced by the queryset's own ordering


class DefaultPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        self._keyset: KeysetPagination | None = None
        if self.cursor_query_param in request.query_params and queryset.query.order_by:
            self._keyset = KeysetPagination()
            self._keyset.ordering = tuple(queryset.query.order_by)
            return self._keyset.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        if getattr(self, "_keyset", None) is not None:
            return self._keyset.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"]["description"] = "absent with ?cursor= (keyset pagination)"
        return response

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [*super().get_schema_operation_parameters(view), {
            "name": self.cursor_query_param, "required": False, "in": "query",
            "description": "keyset pagination: empty for the first page, then the cursor of the `next` link",
            "schema": {"type": "string"},
        }]
