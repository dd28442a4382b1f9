"""/api/v1/audio-events/: event search, the label set, "sounds like this one". Visibility and audit are in
``retrieval.services.audio_events``; objects outside your cases answer 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retrieval.api.pagination import DefaultPagination
from retrieval.models import Finding
from retrieval.services import audio_events

FILTER_PARAMS = [
    OpenApiParameter("type", OpenApiTypes.STR, many=True,
                     description="security label key (gunshot, siren...) or AudioSet class name; repeatable"),
    OpenApiParameter("case", OpenApiTypes.INT, many=True, description="case id (visible cases only); repeatable"),
    OpenApiParameter("from", OpenApiTypes.DATE, description="uploaded on or after this date"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="uploaded on or before this date"),
    OpenApiParameter("min_score", OpenApiTypes.FLOAT, description="0..1"),
    OpenApiParameter("kind", OpenApiTypes.STR, many=True, description="audio or video"),
    OpenApiParameter("sort", OpenApiTypes.STR, description="time (default) or score"),
]


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in row.items() if k not in ("pct", "uploaded_at")},
            "uploaded_at": row["uploaded_at"].isoformat()}


class AudioEventSearchView(APIView):
    """Audio events in your cases: "all gunshots in these cases between these dates"."""

    @extend_schema(parameters=FILTER_PARAMS, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        try:
            filters = audio_events.parse_filters(request.query_params)
        except ValueError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        paginator = DefaultPagination()
        size = paginator.get_page_size(request) or audio_events.PAGE_SIZE
        page = audio_events.search_events(request.user, filters, request.query_params.get("page", 1),
                                          page_size=size, request=request)
        return Response({"count": page.paginator.count, "page": page.number, "pages": page.paginator.num_pages,
                         "results": [_row(r) for r in page.object_list]})


class AudioEventLabelsView(APIView):
    """The security label set (key, plain name, colour) and every AudioSet class that can be searched."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response({
            "security_labels": [{"key": k, "plain_name": n, "color": audio_events.color_of(k)}
                                for k, n in audio_events.security_choices()],
            "audioset_classes": audio_events.audioset_classes(),
        })


class SimilarSoundsView(APIView):
    """Segments across your cases that sound like this event (its 0.96 s segment embeddings, space "yamnet")."""

    @extend_schema(parameters=[
        OpenApiParameter("k", OpenApiTypes.INT, description="number of segments (1..200, default 20)"),
        OpenApiParameter("case", OpenApiTypes.INT, many=True, description="restrict to these cases"),
        OpenApiParameter("kind", OpenApiTypes.STR, many=True, description="audio or video"),
        OpenApiParameter("min_similarity", OpenApiTypes.FLOAT, description="cosine similarity floor (default 0)"),
    ], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        params = request.query_params
        try:
            k = int(params.get("k", 20))
            cases = [int(c) for c in params.getlist("case")] or None
            floor = float(params.get("min_similarity", 0.0))
        except ValueError as exc:
            raise ValidationError({"detail": "k and case must be integers, min_similarity a number"}) from exc
        try:
            result = audio_events.similar_sounds(request.user, pk, k=k, case_ids=cases,
                                                 media_kinds=params.getlist("kind") or None, min_similarity=floor,
                                                 request=request)
        except Finding.DoesNotExist as exc:
            raise Http404("no such audio event") from exc
        return Response({"query": _row(result.query), "segments_used": result.segments, "path": result.path,
                         "note": result.note, "hits": [{key: v for key, v in h.items() if key != "pct"}
                                                        for h in result.hits]})
