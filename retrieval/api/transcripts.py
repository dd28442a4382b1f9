"""/api/v1/search/transcripts/ and /api/v1/media/<id>/transcript/: transcript search and export.

Same rules as the pages: visible cases only (in SQL), other cases' media answer 404, every search and
export is audited. Logic lives in ``retrieval.services.transcripts``.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retrieval.models import MediaItem
from retrieval.services import audit, transcripts

MAX_PAGE = 100


class TranscriptHitSerializer(serializers.Serializer):
    finding_id = serializers.IntegerField()
    media_id = serializers.IntegerField()
    media_name = serializers.CharField()
    case_id = serializers.IntegerField()
    case_title = serializers.CharField()
    start_s = serializers.FloatField()
    end_s = serializers.FloatField()
    language = serializers.CharField()
    engine = serializers.CharField()
    text = serializers.CharField()
    text_en = serializers.CharField()
    snippet = serializers.CharField(help_text="original words with <mark> around matches (HTML-escaped)")
    snippet_en = serializers.CharField(help_text="English with <mark> around matches (HTML-escaped)")
    text_rank = serializers.IntegerField(allow_null=True)
    semantic_rank = serializers.IntegerField(allow_null=True)
    similarity = serializers.FloatField(allow_null=True)
    score = serializers.FloatField()
    href = serializers.CharField(help_text="media page opened at this line")


class SegmentSerializer(serializers.Serializer):
    finding_id = serializers.IntegerField()
    start_s = serializers.FloatField()
    end_s = serializers.FloatField()
    language = serializers.CharField()
    engine = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    text = serializers.CharField()
    text_en = serializers.CharField()


class TranscriptSearchResponseSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="matching lines (after fusion)")
    mode = serializers.CharField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    timings_ms = serializers.DictField(child=serializers.FloatField())
    notes = serializers.ListField(child=serializers.CharField())
    results = TranscriptHitSerializer(many=True)


class MediaTranscriptResponseSerializer(serializers.Serializer):
    media = serializers.IntegerField()
    model_version = serializers.CharField(allow_null=True)
    segments = SegmentSerializer(many=True)


SEARCH_PARAMS = [
    OpenApiParameter("q", str, required=True), OpenApiParameter("mode", str, enum=list(transcripts.MODES)),
    OpenApiParameter("language", str), OpenApiParameter("case", int),
    OpenApiParameter("after", OpenApiTypes.DATE), OpenApiParameter("before", OpenApiTypes.DATE),
    OpenApiParameter("offset", int), OpenApiParameter("limit", int),
]


class TranscriptSearchView(APIView):
    """Full-text (original + English), semantic (MiniLM) or hybrid (RRF) search over your cases' transcripts."""

    @extend_schema(parameters=SEARCH_PARAMS, responses=TranscriptSearchResponseSerializer)
    def get(self, request: Request) -> Response:
        parsed = transcripts.parse_request(request.query_params)
        if not parsed.query:
            parsed.errors["q"] = "give words to search for"
        try:
            offset = max(0, int(request.query_params.get("offset", 0)))
            limit = max(1, min(MAX_PAGE, int(request.query_params.get("limit", 20))))
        except ValueError:
            parsed.errors["offset"] = "offset and limit must be integers"
            offset, limit = 0, 20
        if parsed.errors:
            raise ValidationError(parsed.errors)
        results = transcripts.search_transcripts(request.user, parsed.query, mode=parsed.mode,
                                                 filters=parsed.filters, offset=offset, limit=limit)
        transcripts.audit_search(request, parsed, results)
        hits = [{**TranscriptHitSerializer(h).data, "href": h.href} for h in results.hits]
        return Response({"count": results.total, "mode": results.mode, "offset": offset, "limit": limit,
                         "timings_ms": results.timings_ms, "notes": results.notes, "results": hits})


class MediaTranscriptView(APIView):
    """The transcript of one recording as JSON lines, or ``?export=srt|vtt|txt`` (``&lang=original|en``)."""

    @extend_schema(parameters=[OpenApiParameter("export", str, enum=list(transcripts.EXPORT_FORMATS)),
                               OpenApiParameter("lang", str, enum=["original", "en"])],
                   responses={200: MediaTranscriptResponseSerializer,
                              (200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request, pk: int) -> Response | HttpResponse:
        media = get_object_or_404(MediaItem.objects.visible_to(request.user), pk=pk)
        fmt = request.query_params.get("export", "")
        lang = request.query_params.get("lang", "original")
        if fmt:
            try:
                body, content_type, filename = transcripts.export_response_parts(media, fmt, lang)
            except ValueError as exc:
                raise ValidationError({"export": str(exc)}) from exc
            audit.record("transcript.export", actor=request.user, target=media, case_id=media.case_id,
                         request=request, details={"format": fmt, "lang": lang, "via": "api"})
            response = HttpResponse(body, content_type=content_type)
            response["Content-Disposition"] = content_disposition_header(True, filename)
            return response
        segments = transcripts.segments_for(media, None, with_highlights=False)
        audit.record("transcript.view", actor=request.user, target=media, case_id=media.case_id, request=request,
                     details={"lines": len(segments), "via": "api"})
        return Response({"media": media.pk, "model_version": transcripts.transcript_version(media),
                         "segments": SegmentSerializer(segments, many=True).data})
