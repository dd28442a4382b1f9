"""/api/v1/persons/ (list, retrieve, merge, split, rename) and /api/v1/faces/probe/ (search by photo).

Querysets start from ``Person.objects.visible_to``; writes need a write role in the person's
case (403 for viewers, 404 for outsiders) and go through ``retrieval.services.faces`` (audit).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retrieval.api.probes import ProbeFilterSerializer, probe_filters, with_probe
from retrieval.models import Case, Finding
from retrieval.models.faces import Person
from retrieval.services import audit, faces


class PersonSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id", read_only=True)
    display_name = serializers.CharField(read_only=True)
    representative = serializers.IntegerField(source="representative_id", read_only=True)
    crop_url = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = ["id", "case", "number", "name", "display_name", "origin", "face_count", "representative",
                  "crop_url", "created_at", "updated_at"]
        read_only_fields = fields

    def get_crop_url(self, person: Person) -> str | None:
        return f"/faces/crop/{person.representative_id}.jpg" if person.representative_id else None


class PersonFaceSerializer(serializers.ModelSerializer):
    quality = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = ["id", "media", "start_s", "box", "score", "quality"]
        read_only_fields = fields

    def get_quality(self, f: Finding) -> float:
        return faces.quality_of(f)


class RenameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, allow_blank=True)


class SplitSerializer(serializers.Serializer):
    faces = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1)
    name = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")


class MergeSerializer(serializers.Serializer):
    sources = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1)


class PersonViewSet(viewsets.ReadOnlyModelViewSet):
    """Persons of the cases you belong to (``?case=`` to pick one); the faces with ``/faces/``."""

    serializer_class = PersonSerializer

    def get_queryset(self) -> Any:
        qs = Person.objects.visible_to(self.request.user).order_by("case_id", "-face_count", "number")
        case = self.request.query_params.get("case")
        return qs.filter(case_id=int(case)) if case and case.isdigit() else qs

    def _writable(self, serializer_class: type[serializers.Serializer]) -> tuple[Person, dict[str, Any]]:
        """The person (write role required) and the validated request body."""
        person = self.get_object()
        if not Case.objects.writable_by(self.request.user).filter(pk=person.case_id).exists():
            raise PermissionDenied("you may not change persons of this case")
        ser = serializer_class(data=self.request.data)
        ser.is_valid(raise_exception=True)
        return person, ser.validated_data

    @action(detail=True, methods=["get"])
    def faces(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        person = self.get_object()
        qs = Finding.objects.filter(face_assignment__person=person).order_by("media_id", "start_s", "id")
        page = self.paginate_queryset(qs)
        audit.record("person.view", actor=request.user, target=person, case_id=person.case_id, request=request)
        return self.get_paginated_response(PersonFaceSerializer(page, many=True).data)

    @extend_schema(request=RenameSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"])
    def rename(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        person, data = self._writable(RenameSerializer)
        faces.rename(actor=request.user, person=person, name=data["name"], request=request)
        return Response(PersonSerializer(person).data)

    @extend_schema(request=SplitSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"])
    def split(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        person, data = self._writable(SplitSerializer)
        try:
            new = faces.split(actor=request.user, person=person, finding_ids=data["faces"], name=data["name"],
                              request=request)
        except ValueError as exc:
            raise ValidationError({"faces": str(exc)}) from exc
        return Response(PersonSerializer(new).data, status=201)

    @extend_schema(request=MergeSerializer, responses=PersonSerializer)
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        person, data = self._writable(MergeSerializer)
        ids = set(data["sources"])
        sources = list(Person.objects.filter(case_id=person.case_id, pk__in=ids))
        if len(sources) != len(ids):
            raise ValidationError({"sources": "persons to merge must belong to the same case"})
        try:
            faces.merge(actor=request.user, target=person, sources=sources, request=request)
        except ValueError as exc:
            raise ValidationError({"sources": str(exc)}) from exc
        return Response(PersonSerializer(person).data)


class FaceProbeSerializer(ProbeFilterSerializer):
    pass


class ProbeSearchView(APIView):
    """A photo of a face → ranked faces in your cases, calibrated scores, "unknown" below the threshold.

    The photo is analysed in the request and discarded (not stored as evidence).
    """

    parser_classes = [MultiPartParser]
    serializer_class = FaceProbeSerializer  # for the schema generator (the view validates with it explicitly)

    @extend_schema(request={"multipart/form-data": FaceProbeSerializer})
    def post(self, request: Request) -> Response:
        result = with_probe(request, FaceProbeSerializer, lambda path, _, data: faces.probe_search(
            request.user, path, request=request, filters=probe_filters(data, ("image", "video"))))
        if result.error:
            raise ValidationError({"file": result.error})
        return Response({
            "answer": result.answer, "threshold": result.threshold, "faces_in_probe": result.faces,
            "probe_face": result.used_face,
            "results": [{
                "finding": h.finding.pk, "media": h.media.pk, "case": h.media.case_id, "similarity": h.similarity,
                "score": h.score, "above_threshold": h.above, "quality": h.quality, "time_s": h.time_s,
                "box": h.finding.box, "person": h.person.pk if h.person else None,
                "person_name": h.person.display_name if h.person else None, "url": h.href,
            } for h in result.hits],
        })
