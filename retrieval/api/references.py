"""/api/v1/reference-collections/ and /api/v1/reference-recordings/: known recordings to find in evidence.

Querysets start from ``visible_to(request.user)`` (other cases' collections answer 404);
writes go through ``retrieval.services.references`` (write role, audit). Uploaded
reference files are fingerprinted by a Celery task; poll ``status`` of the recordings.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from retrieval.api.views import PayloadTooLarge
from retrieval.models import Case, ReferenceCollection, ReferenceRecording
from retrieval.services import references
from retrieval.uploads import cleanup_request_uploads


class ReferenceRecordingSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReferenceRecording
        fields = ["id", "collection", "title", "sha256", "size", "status", "error", "warning", "duration_s", "n_hashes",
                  "model_version", "created_at", "processed_at"]
        read_only_fields = fields


class ReferenceCollectionSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    recording_count = serializers.SerializerMethodField()

    class Meta:
        model = ReferenceCollection
        fields = ["id", "case", "name", "description", "recording_count", "created_at", "updated_at"]
        read_only_fields = ["id", "recording_count", "created_at", "updated_at"]

    def get_recording_count(self, collection: ReferenceCollection) -> int:
        return collection.recordings.count()


class RecordingUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="one or more reference audio files (repeat the field)")


def _service_errors(exc: Exception) -> Exception:
    if isinstance(exc, DjangoPermissionDenied):
        return PermissionDenied(str(exc))
    return ValidationError(getattr(exc, "message_dict", None) or {"detail": "; ".join(exc.messages)})


class ReferenceCollectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                                 mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Reference collections of your cases (``?case=<id>`` to narrow). Owners and investigators create,
    fill and delete them; deleting one deletes its recordings' hashes (the audio stays in the store)."""

    serializer_class = ReferenceCollectionSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> Any:
        qs = ReferenceCollection.objects.visible_to(self.request.user).order_by("id")
        case = self.request.query_params.get("case", "")
        if case.isdigit():
            qs = qs.filter(case_id=int(case))
        return qs

    @extend_schema(parameters=[OpenApiParameter("case", int)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        case = Case.objects.visible_to(self.request.user).filter(pk=data["case_id"]).first()
        if case is None:
            raise ValidationError({"case": "not a case of yours"})
        try:
            serializer.instance = references.create_collection(
                actor=self.request.user, case=case, name=data["name"], description=data.get("description", ""),
                request=self.request)
        except (DjangoPermissionDenied, DjangoValidationError) as exc:
            raise _service_errors(exc) from exc

    def perform_destroy(self, instance: ReferenceCollection) -> None:
        try:
            references.delete_collection(actor=self.request.user, collection=instance, request=self.request)
        except DjangoPermissionDenied as exc:
            raise _service_errors(exc) from exc

    @extend_schema(request={"multipart/form-data": RecordingUploadSerializer},
                   responses={200: ReferenceRecordingSerializer(many=True),
                              201: ReferenceRecordingSerializer(many=True)})
    @action(detail=True, methods=["get", "post"], parser_classes=[MultiPartParser, FormParser])
    def recordings(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """List the collection's recordings, or upload reference files (multipart field ``file``, repeatable).

        Each new file is queued for fingerprinting (``status`` pending → processing → ready | failed);
        a file already in the collection (same SHA-256) is returned with ``created: false``.
        """
        collection = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(collection.recordings.order_by("id"))
            return self.get_paginated_response(ReferenceRecordingSerializer(page, many=True).data)
        try:
            return self._upload(request, collection)
        finally:
            cleanup_request_uploads(request._request)

    def _upload(self, request: Request, collection: ReferenceCollection) -> Response:
        if getattr(request._request, "_mmsec_too_large", False):
            raise PayloadTooLarge()
        files = request.FILES.getlist("file")
        if getattr(request._request, "_mmsec_too_large", False):
            raise PayloadTooLarge()
        if not files:
            raise ValidationError({"file": "attach at least one file in the multipart field 'file'"})
        results, new = [], []
        try:
            for upload in files:
                added = references.add_recording(actor=request.user, collection=collection,
                                                  temp_path=upload.temp_path, sha256=upload.sha256,
                                                  size=upload.size, name=upload.name, request=request)
                results.append({"created": added.created,
                                "recording": ReferenceRecordingSerializer(added.recording).data})
                if added.created:
                    new.append(added.recording.pk)
        except DjangoPermissionDenied as exc:
            raise _service_errors(exc) from exc
        references.queue_ingest(new)
        return Response(results, status=status.HTTP_201_CREATED)


class ReferenceRecordingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                                viewsets.GenericViewSet):
    """Reference recordings of your cases (``?collection=<id>``); DELETE removes one and its hashes."""

    serializer_class = ReferenceRecordingSerializer

    def get_queryset(self) -> Any:
        qs = ReferenceRecording.objects.visible_to(self.request.user).order_by("id")
        collection = self.request.query_params.get("collection", "")
        if collection.isdigit():
            qs = qs.filter(collection_id=int(collection))
        return qs

    @extend_schema(parameters=[OpenApiParameter("collection", int)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    def perform_destroy(self, instance: ReferenceRecording) -> None:
        recording = get_object_or_404(ReferenceRecording.objects.select_related("collection__case"), pk=instance.pk)
        try:
            references.delete_recording(actor=self.request.user, recording=recording, request=self.request)
        except DjangoPermissionDenied as exc:
            raise _service_errors(exc) from exc
