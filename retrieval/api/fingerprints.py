"""/api/v1/subjects/ and /api/v1/fingerprints/: subjects and enrolment, 1:N identify (of evidence or of a probe
image, ``fingerprints/probe/``), 1:1 verify, DPI, ISO export.

Querysets start from ``visible_to(request.user)`` (other cases answer 404); writes go through
``retrieval.services.fingerprints`` (role checks, quality rules, audit).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retrieval.api.probes import ProbeFilterSerializer, probe_filters, with_probe
from retrieval.models import Case, Enrolment, FingerPosition, MediaItem, Subject, Watchlist
from retrieval.services import fingerprints


def _service(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a service, turning its Django errors into DRF ones (400 / 403)."""
    try:
        return fn(*args, **kwargs)
    except DjangoValidationError as exc:
        raise ValidationError({"detail": "; ".join(exc.messages)}) from exc
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc) or "your role in this case does not allow this") from exc


class EnrolmentSerializer(serializers.ModelSerializer):
    finger = serializers.ChoiceField(choices=FingerPosition.choices)
    finger_name = serializers.CharField(source="get_finger_display", read_only=True)
    media = serializers.IntegerField(source="media_id")

    class Meta:
        model = Enrolment
        fields = ["finger", "finger_name", "media", "quality", "minutiae", "enrolled_at"]
        read_only_fields = ["finger_name", "quality", "minutiae", "enrolled_at"]


class SubjectSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    enrolments = EnrolmentSerializer(many=True, read_only=True)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    notes = serializers.CharField(required=False, allow_blank=True, default="")

    class Meta:
        model = Subject
        fields = ["id", "case", "name", "reference", "notes", "enrolments", "created_at", "updated_at"]
        read_only_fields = ["id", "enrolments", "created_at", "updated_at"]


class SubjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Fingerprint subjects of your cases (``?case=`` filters). Owners and investigators change them."""

    serializer_class = SubjectSerializer

    def get_queryset(self) -> Any:
        qs = Subject.objects.visible_to(self.request.user).prefetch_related("enrolments").order_by("id")
        case = self.request.query_params.get("case", "")
        return qs.filter(case_id=int(case)) if case.isdigit() else qs

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        case = Case.objects.visible_to(self.request.user).filter(pk=data["case_id"]).first()
        if case is None:
            raise ValidationError({"case": "not one of your cases"})
        serializer.instance = _service(fingerprints.create_subject, actor=self.request.user, case=case,
                                       name=data.get("name", ""), reference=data.get("reference", ""),
                                       notes=data.get("notes", ""), request=self.request)

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        if "case_id" in data and data["case_id"] != serializer.instance.case_id:
            raise ValidationError({"case": "a subject cannot move to another case"})
        fields = {k: data[k] for k in ("name", "reference", "notes") if k in self.request.data}
        serializer.instance = _service(fingerprints.update_subject, actor=self.request.user,
                                       subject=serializer.instance, request=self.request, **fields)

    def perform_destroy(self, instance: Subject) -> None:
        _service(fingerprints.delete_subject, actor=self.request.user, subject=instance, request=self.request)

    @extend_schema(request=EnrolmentSerializer, responses=EnrolmentSerializer(many=True))
    @action(detail=True, methods=["get", "post"], serializer_class=EnrolmentSerializer)
    def enrolments(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """List enrolled fingers, or enrol one: ``{"finger": 2, "media": 17}`` (400 with the reason if refused)."""
        subject = self.get_object()
        if request.method == "POST":
            ser = EnrolmentSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            media = MediaItem.objects.filter(pk=ser.validated_data["media_id"], case_id=subject.case_id).first()
            if media is None:
                raise ValidationError({"media": "the print must be evidence of the subject's case"})
            enrolment = _service(fingerprints.enrol, actor=request.user, subject=subject,
                                 finger=int(ser.validated_data["finger"]), media=media, request=request)
            return Response(EnrolmentSerializer(enrolment).data, status=status.HTTP_201_CREATED)
        return Response(EnrolmentSerializer(subject.enrolments.all(), many=True).data)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={204: None})
    @action(detail=True, methods=["post"])
    def unenrol(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """Remove an enrolled finger: ``{"finger": 2}``."""
        subject = self.get_object()
        finger = _payload(request).get("finger")
        _service(fingerprints.unenrol, actor=request.user, subject=subject,
                 finger=int(finger) if str(finger).isdigit() else 0, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def watch(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """Put the subject on a fingerprint watchlist of its case: ``{"watchlist": 4}``."""
        subject = self.get_object()
        wl_id = _payload(request).get("watchlist")
        watchlist = get_object_or_404(Watchlist.objects.visible_to(request.user),
                                      pk=int(wl_id) if str(wl_id).isdigit() else 0)
        entry = _service(fingerprints.watch_subject, actor=request.user, watchlist=watchlist, subject=subject,
                         request=request)
        return Response({"entry": entry.pk, "watchlist": watchlist.pk}, status=status.HTTP_201_CREATED)


def _minutia(m: fingerprints.Minutia) -> dict[str, Any]:
    return {"index": m.index, "x": m.x, "y": m.y, "kind": m.kind, "quality": m.quality}


def _comparison(c: fingerprints.Comparison) -> dict[str, Any]:
    return {
        "media": c.media.pk, "case": c.media.case_id, "finding": c.finding.pk, "score": round(c.score, 5),
        "calibrated": round(c.calibrated, 5),
        "index_similarity": None if c.similarity is None else round(c.similarity, 5),
        "match": c.is_match,
        "subjects": [{"subject": e.subject_id, "name": e.subject.display_name, "finger": e.finger,
                      "finger_name": e.get_finger_display()} for e in c.enrolments],
        # pairs in original-image pixels of each print: [[probe_x, probe_y, other_x, other_y], ...]
        "pairs": [[p.probe.x, p.probe.y, p.other.x, p.other.y] for p in c.pairs],
    }


def _visible_media(request: Request, pk: Any) -> MediaItem:
    if not str(pk).isdigit():
        raise ValidationError({"media": "give a media id"})
    return get_object_or_404(MediaItem.objects.visible_to(request.user), pk=int(pk))


def _payload(request: Request) -> Any:
    """The JSON object of the request body; anything else (a string, a list) is a 400, not a 500."""
    if not hasattr(request.data, "get"):
        raise ValidationError({"detail": "the body must be a JSON object"})
    return request.data


class IdentifyView(APIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        """1:N: ``{"media": 17, "scope": "enrolled"|"all"}`` → decision ("match" / "no match") and ranked candidates."""
        data = _payload(request)
        media = _visible_media(request, data.get("media"))
        result = _service(fingerprints.identify, request.user, media, scope=data.get("scope", "enrolled"),
                          request=request)
        return Response({
            "media": media.pk, "scope": result.scope, "decision": result.decision,
            "threshold": result.threshold, "gallery": result.gallery, "reranked": result.candidates,
            "candidate_path": result.path, "elapsed_ms": round(result.elapsed_ms, 1),
            "candidates": [_comparison(c) for c in result.comparisons],
        })


class VerifyView(APIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        """1:1: ``{"media": 17, "subject": 3, "finger": 2 (optional)}`` → decision and per-finger scores."""
        data = _payload(request)
        media = _visible_media(request, data.get("media"))
        subject_id = data.get("subject")
        subject = get_object_or_404(Subject.objects.visible_to(request.user),
                                    pk=int(subject_id) if str(subject_id).isdigit() else 0)
        finger = data.get("finger")
        result = _service(fingerprints.verify, request.user, media, subject,
                          finger=int(finger) if str(finger).isdigit() else None, request=request)
        return Response({"media": media.pk, "subject": subject.pk, "decision": result.decision,
                         "threshold": result.threshold, "comparisons": [_comparison(c) for c in result.comparisons]})


class PrintView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, pk: int) -> Response:
        """The print of a media item: quality, DPI (and its source), minutiae in original-image pixels."""
        media = _visible_media(request, pk)
        finding = _service(fingerprints.require_print, media)
        view = fingerprints.print_view(media, finding)
        return Response({"media": media.pk, "quality": view.quality, "dpi": view.dpi, "dpi_source": view.dpi_source,
                         "dpi_note": view.dpi_note, "user_dpi": (media.metadata or {}).get("user_dpi"),
                         "width": view.width, "height": view.height, "box": view.box,
                         "minutiae": [_minutia(m) for m in view.minutiae]})


class DpiView(APIView):
    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, pk: int) -> Response:
        """Set (``{"dpi": 1000}``) or clear (``{"dpi": null}``) the scan resolution; the item is reprocessed."""
        media = _visible_media(request, pk)
        raw = _payload(request).get("dpi")
        try:
            dpi = None if raw in (None, "") else float(raw)
        except (TypeError, ValueError) as exc:
            raise ValidationError({"dpi": "a number, e.g. 500"}) from exc
        media, queued = _service(fingerprints.set_dpi, actor=request.user, media=media, dpi=dpi, request=request)
        return Response({"media": media.pk, "user_dpi": media.metadata.get("user_dpi"), "reprocessing": queued},
                        status=status.HTTP_202_ACCEPTED)


class TemplateView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        """The print's ISO/IEC 19794-2:2005 minutiae record (audited)."""
        media = _visible_media(request, pk)
        record, filename = _service(fingerprints.iso_template, request.user, media, request=request)
        response = HttpResponse(record, content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class FingerprintProbeSerializer(ProbeFilterSerializer):
    dpi = serializers.FloatField(required=False, allow_null=True, min_value=fingerprints.DPI_RANGE[0],
                                 max_value=fingerprints.DPI_RANGE[1])
    scope = serializers.ChoiceField(choices=["enrolled", "all"], required=False, default="enrolled")


class ProbeView(APIView):
    """1:N of a fingerprint image that is not evidence: analysed in the request, never stored (audited)."""

    parser_classes = [MultiPartParser]
    serializer_class = FingerprintProbeSerializer  # for the schema generator (the view validates with it explicitly)

    @extend_schema(request={"multipart/form-data": FingerprintProbeSerializer}, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        """Multipart ``file`` (+ optional ``dpi``, ``scope``) → decision ("match" / "no match") and candidates."""
        probe = with_probe(request, FingerprintProbeSerializer, lambda path, name, data: fingerprints.identify_probe(
            request.user, path, name=name, dpi=data.get("dpi"), scope=data["scope"], request=request,
            filters=probe_filters(data, ("image",))))
        if probe.error or probe.result is None:
            raise ValidationError({"file": probe.error or "no result"})
        result = probe.result
        return Response({
            "probe_sha256": probe.sha256, "scope": result.scope, "decision": result.decision,
            "threshold": result.threshold, "gallery": result.gallery, "reranked": result.candidates,
            "elapsed_ms": round(result.elapsed_ms, 1),
            "probe": {"quality": result.probe.quality, "dpi": result.probe.dpi, "width": result.probe.width,
                      "height": result.probe.height, "minutiae": [_minutia(m) for m in result.probe.minutiae]},
            "candidates": [_comparison(c) for c in result.comparisons],
        })
