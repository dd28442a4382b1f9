"""REST API v1 viewsets. Every queryset starts from ``visible_to(request.user)``: objects of
cases the user does not belong to answer 404, exactly as if they did not exist."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, Throttled, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from retrieval import storage
from retrieval.api import serializers as s
from retrieval.models import AuditEvent, Case, CaseMembership, Finding, MediaItem
from retrieval.models.cases import WRITE_ROLES
from retrieval.services import audit, cases, ingest, login_limits, search
from retrieval.uploads import cleanup_request_uploads, storage_error


class PayloadTooLarge(APIException):
    status_code = 413
    default_detail = "file is larger than the upload limit"
    default_code = "too_large"


def _datetime_param(params: Any, name: str) -> datetime | None:
    """An ISO 8601 query parameter as an aware UTC datetime, or a 400 naming the parameter.

    Parsing here, not in the ORM, turns malformed values and offsets PostgreSQL refuses (beyond ±15:59)
    into a validation error instead of a database error.
    """
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = parse_datetime(raw)
        if value is None:
            raise ValueError("not an ISO 8601 date-time")
        if timezone.is_naive(value):
            value = timezone.make_aware(value, UTC)
        return value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ValidationError({name: f"give an ISO 8601 date-time ({exc})"}) from exc


class InsufficientStorage(APIException):
    status_code = 507
    default_detail = "the evidence store is full; nothing from this request was stored"
    default_code = "insufficient_storage"


class CaseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                  mixins.UpdateModelMixin, viewsets.GenericViewSet):
    """Cases you are a member of. Cases are closed or archived, never deleted (evidence is kept)."""

    serializer_class = s.CaseSerializer

    def get_queryset(self) -> Any:
        return (Case.objects.visible_to(self.request.user).annotate(media_count=Count("media", distinct=True))
                .order_by("-updated_at", "-id"))

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = cases.create_case(actor=self.request.user, request=self.request,
                                                title=serializer.validated_data.get("title", ""),
                                                description=serializer.validated_data.get("description", ""))

    def perform_update(self, serializer: Any) -> None:
        serializer.instance = cases.update_case(actor=self.request.user, case=serializer.instance,
                                                request=self.request, **serializer.validated_data)

    @extend_schema(request=s.MembershipSerializer, responses=s.MembershipSerializer(many=True))
    @action(detail=True, methods=["get", "post"], serializer_class=s.MembershipSerializer)
    def members(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """List members, or (owners) add a member / change a role: ``{"username": ..., "role": ...}``."""
        case = self.get_object()
        if request.method == "POST":
            ser = s.MembershipSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            membership = cases.set_member(actor=request.user, case=case, user=ser.validated_data["user"],
                                          role=ser.validated_data["role"], request=request)
            return Response(s.MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)
        members = CaseMembership.objects.filter(case=case).select_related("user")
        return Response(s.MembershipSerializer(members, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("username", str, OpenApiParameter.PATH)], request=None,
                   responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<username>[^/]+)")
    def remove_member(self, request: Request, pk: str | None = None, username: str = "",
                      format: str | None = None) -> Response:
        case = self.get_object()
        user = get_object_or_404(get_user_model(), username=username)
        cases.remove_member(actor=request.user, case=case, user=user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MediaViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Evidence media. Upload with multipart POST (field ``case`` and one or more ``file``)."""

    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_serializer_class(self) -> Any:
        if self.action == "retrieve":
            return s.MediaDetailSerializer
        if self.action == "create":
            return s.UploadSerializer
        return s.MediaSerializer

    def get_queryset(self) -> Any:
        qs = MediaItem.objects.filter(case__in=Case.objects.visible_to(self.request.user).values("id"))
        if self.action == "retrieve":
            return qs.prefetch_related("jobs")
        params = self.request.query_params
        filters = {
            "case_id": params.get("case"), "kind": params.get("kind"), "status": params.get("status"),
            "uploaded_at__gte": _datetime_param(params, "uploaded_after"),
            "uploaded_at__lt": _datetime_param(params, "uploaded_before"),
            "sha256": params.get("sha256"), "original_name__icontains": params.get("name"),
        }
        for field, value in filters.items():
            if value:
                if field == "case_id" and not str(value).isdigit():
                    raise ValidationError({"case": "must be a case id"})
                qs = qs.filter(**{field: value})
        return qs.order_by("-uploaded_at", "-id")

    @extend_schema(
        parameters=[
            OpenApiParameter("case", int), OpenApiParameter("kind", str, enum=["image", "audio", "video", "unknown"]),
            OpenApiParameter("status", str, enum=["pending", "processing", "ready", "failed"]),
            OpenApiParameter("uploaded_after", OpenApiTypes.DATETIME),
            OpenApiParameter("uploaded_before", OpenApiTypes.DATETIME),
            OpenApiParameter("sha256", str), OpenApiParameter("name", str),
        ]
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(request={"multipart/form-data": s.UploadSerializer},
                   responses={201: s.UploadResultSerializer(many=True), 413: None, 507: None})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return self._create(request)
        finally:
            cleanup_request_uploads(request._request)

    def _create(self, request: Request) -> Response:
        if getattr(request._request, "_mmsec_too_large", False):
            raise PayloadTooLarge()
        data = request.data  # parses the multipart body (streams files to the store's temp dir)
        if getattr(request._request, "_mmsec_too_large", False):
            raise PayloadTooLarge()
        if storage_error(request._request):
            raise InsufficientStorage(f"{storage_error(request._request)}; nothing from this request was stored")
        case_id = data.get("case")
        if not case_id or not str(case_id).isdigit():
            raise ValidationError({"case": "give the id of a case"})
        case = get_object_or_404(Case.objects.visible_to(request.user), pk=int(case_id))
        if case.role_of(request.user) not in WRITE_ROLES:
            raise ValidationError({"case": "your role in this case is read-only"})
        files = request.FILES.getlist("file")
        if not files:
            raise ValidationError({"file": "attach at least one file in the multipart field 'file'"})
        results = []
        for upload in files:
            result = ingest.ingest_upload(actor=request.user, case=case, upload=upload, request=request)
            results.append({"created": result.created, "media": s.MediaSerializer(result.media).data})
        return Response(results, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str | None = None, format: str | None = None) -> FileResponse:
        """The original file, byte for byte (SHA-256 in the ``X-Content-SHA256`` header)."""
        media = self.get_object()
        path = storage.object_path(media.sha256)
        if not path.exists():
            raise Http404("stored file is missing")
        audit.record("media.download", actor=request.user, target=media, case_id=media.case_id, request=request)
        response = FileResponse(open(path, "rb"), as_attachment=True, filename=media.original_name,  # noqa: SIM115
                                content_type="application/octet-stream")
        response["X-Content-SHA256"] = media.sha256
        return response

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None, format: str | None = None) -> FileResponse:
        media = self.get_object()
        path = storage.preview_path(media.pk)
        if not media.has_preview or not path.exists():
            raise Http404("no preview")
        response = FileResponse(open(path, "rb"), content_type="image/png")  # noqa: SIM115
        response["Cache-Control"] = "private, max-age=300"
        return response

    @extend_schema(responses=s.JobSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="status")
    def processing_status(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        media = self.get_object()
        return Response({"status": media.status, "error": media.error,
                         "jobs": s.JobSerializer(media.jobs.all(), many=True).data})


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Audit trail of the cases you belong to (``?case=<id>`` to narrow)."""

    serializer_class = s.AuditEventSerializer

    def get_queryset(self) -> Any:
        visible = Case.objects.visible_to(self.request.user).values_list("id", flat=True)
        qs = AuditEvent.objects.filter(case_id__in=list(visible))
        case = self.request.query_params.get("case")
        if case:
            if not case.isdigit():
                raise ValidationError({"case": "must be a case id"})
            qs = qs.filter(case_id=int(case))
        return qs

    @extend_schema(parameters=[OpenApiParameter("case", int)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)


class TokenView(ObtainAuthToken):
    """Username and password → API token, under the same failed-login limits as the login page (429)."""

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        wait = login_limits.retry_after(str(request.data.get("username", "")), request)
        if wait is not None:
            raise Throttled(wait=wait, detail=login_limits.refusal_message(wait))
        return super().post(request, *args, **kwargs)


class SimilarSearchView(APIView):
    """Nearest findings to a vector (or to a stored finding) in one embedding space, within your cases."""

    @extend_schema(request=s.SimilarSearchSerializer, responses=s.HitSerializer(many=True))
    def post(self, request: Request) -> Response:
        ser = s.SimilarSearchSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        space = search.active_space(data["plugin"], data["space"])
        if space is None:
            raise ValidationError({"space": "no active embedding space with that plugin and name"})
        vector = data.get("vector")
        exclude: list[int] = []
        if data.get("finding"):
            finding = get_object_or_404(
                Finding.objects.filter(case_id__in=Case.objects.visible_to(request.user).values("id")),
                pk=data["finding"], space=space,
            )
            vector = list(finding.vector)
        try:
            result = search.search_similar(
                request.user, space, vector, k=data["k"],
                filters=search.SearchFilters(case_ids=data.get("cases"), media_kinds=data.get("media_kinds"),
                                             exclude_media_ids=exclude),
                cursor=data.get("cursor"),
            )
        except ValueError as exc:
            raise ValidationError({"cursor" if "cursor" in str(exc) else "vector": str(exc)}) from exc
        audit.record("search.similar", actor=request.user, request=request,
                     details={"plugin": data["plugin"], "space": data["space"], "k": data["k"],
                              "hits": len(result.hits), "path": result.path})
        return Response({"path": result.path, "next_cursor": result.next_cursor,
                         "hits": s.HitSerializer(result.hits, many=True).data})


__all__ = ["CaseViewSet", "MediaViewSet", "AuditEventViewSet", "SimilarSearchView", "TokenView", "serializers"]
