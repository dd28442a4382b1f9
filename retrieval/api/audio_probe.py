"""/api/v1/audio/probe/: search by audio clip. The clip is analysed in the request and discarded (never stored);
the answer names the known recording it is (or "no known recording") and where similar sounds occur in the
cases you may see (``retrieval.services.audio_probe``)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retrieval.api.probes import ProbeFilterSerializer, probe_filters, with_probe
from retrieval.services import audio_probe

HIT_FIELDS = ("media_id", "media_name", "media_kind", "case_id", "case_title", "start_s", "end_s", "segments",
              "similarity", "href", "clip_clock", "events")


class AudioProbeSerializer(ProbeFilterSerializer):
    pass


class AudioProbeView(APIView):
    """An audio clip (or a video, its audio track) → known recording + similar sounds in your cases."""

    parser_classes = [MultiPartParser]
    serializer_class = AudioProbeSerializer  # for the schema generator (the view validates with it explicitly)

    @extend_schema(request={"multipart/form-data": AudioProbeSerializer}, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        result = with_probe(request, AudioProbeSerializer, lambda path, name, data: audio_probe.probe_clip(
            request.user, path, name=name, request=request, filters=probe_filters(data, ("audio", "video"))))
        if result.error:
            raise ValidationError({"file": result.error})
        return Response({
            "probe_sha256": result.sha256, "kind": result.kind, "duration_s": result.duration_s,
            "analysed_s": result.analysed_s, "truncated": result.truncated, "answer": result.answer,
            "known_recordings": [{
                "recording": m.recording.pk, "title": m.recording.title, "collection": m.recording.collection_id,
                "collection_name": m.recording.collection.name, "case": m.recording.collection.case_id,
                "clip_start_s": m.clip_start_s, "clip_end_s": m.clip_end_s,
                "reference_start_s": m.reference_start_s, "reference_end_s": m.reference_end_s,
                "confidence": round(m.confidence, 4), "matched_hashes": m.matched_hashes,
            } for m in result.recordings],
            "events": result.events,
            "min_similarity": result.min_similarity,
            "similar_sounds": [{k: row.get(k) for k in HIT_FIELDS} for row in result.hits],
            "notes": result.notes,
        })
