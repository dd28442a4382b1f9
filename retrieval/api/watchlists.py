"""/api/v1/watchlists/ and /api/v1/alerts/: serializers and viewsets of the watchlist topic.

Querysets start from ``visible_to(request.user)``; writes go through
``retrieval.services.watchlists`` (validation, audit).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from retrieval.models import Alert, AlertStatus, Case, Watchlist, WatchlistEntry, WatchlistKind
from retrieval.services import audit, watchlists
from retrieval.services.notifications import check_webhook_url


class WatchlistEntrySerializer(serializers.ModelSerializer):
    media_ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                      write_only=True)
    media = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    value = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    data = serializers.DictField(required=False, default=dict)

    class Meta:
        model = WatchlistEntry
        fields = ["id", "label", "value", "media", "media_ids", "data", "created_at"]
        read_only_fields = ["id", "media", "created_at"]


class UsernameListField(serializers.ListField):
    """Users in and out as a sorted list of usernames (the members API names users the same way)."""

    def to_representation(self, data: Any) -> list[str]:
        return sorted(u.get_username() for u in data.all())


class WatchlistSerializer(serializers.ModelSerializer):
    case = serializers.IntegerField(source="case_id")
    kind = serializers.ChoiceField(choices=WatchlistKind.choices)
    threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, allow_null=True, default=None)
    watched_cases = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list,
                                          write_only=True)
    notify_users = UsernameListField(
        child=serializers.CharField(max_length=150), required=False,
        help_text="Usernames of members of the watchlist's case (any role) e-mailed about new alerts. "
                  "Omitted on create: you. A non-member is refused with 400.")
    effective_threshold = serializers.SerializerMethodField()
    entry_count = serializers.SerializerMethodField()

    class Meta:
        model = Watchlist
        fields = ["id", "case", "name", "kind", "description", "enabled", "threshold", "effective_threshold",
                  "watched_cases", "notify_users", "webhook_url", "entry_count", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_effective_threshold(self, wl: Watchlist) -> float:
        return watchlists.threshold_of(wl)

    def get_entry_count(self, wl: Watchlist) -> int:
        return wl.entries.count()

    def to_representation(self, wl: Watchlist) -> dict[str, Any]:
        data = super().to_representation(wl)
        data["watched_cases"] = sorted(wl.watched_cases.values_list("id", flat=True))
        return data


class AlertSerializer(serializers.ModelSerializer):
    watchlist_name = serializers.CharField(source="watchlist.name", read_only=True)
    kind = serializers.CharField(source="watchlist.kind", read_only=True)

    class Meta:
        model = Alert
        fields = ["id", "watchlist", "watchlist_name", "kind", "entry", "entry_label", "case", "media", "finding",
                  "plugin", "score", "start_s", "end_s", "box", "summary", "details", "status", "note",
                  "reviewed_by", "reviewed_at", "created_at"]
        read_only_fields = fields


class AlertReviewSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class WatchlistViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Watchlists of your cases. Owners and investigators create and change them."""

    serializer_class = WatchlistSerializer

    def get_queryset(self) -> Any:
        return Watchlist.objects.visible_to(self.request.user).order_by("id")

    def _writable(self, wl: Watchlist) -> None:
        if not Watchlist.objects.writable_by(self.request.user).filter(pk=wl.pk).exists():
            raise PermissionDenied("viewers cannot change watchlists")

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        case = Case.objects.writable_by(self.request.user).filter(pk=data["case_id"]).first()
        if case is None:
            raise ValidationError({"case": "not a case you may add evidence to"})
        try:
            serializer.instance = watchlists.create_watchlist(
                actor=self.request.user, case=case, name=data["name"], kind=data["kind"],
                threshold=data.get("threshold"), description=data.get("description", ""),
                watched_case_ids=data.get("watched_cases", []), webhook_url=data.get("webhook_url", ""),
                notify_usernames=data.get("notify_users"), request=self.request,
            )
        except watchlists.NotACaseMember as exc:
            raise ValidationError({"notify_users": [str(exc)]}) from exc
        except PermissionError as exc:
            raise ValidationError({"watched_cases": str(exc)}) from exc
        except ValueError as exc:
            raise ValidationError({"kind" if "kind" in str(exc) else "detail": str(exc)}) from exc

    @transaction.atomic
    def perform_update(self, serializer: Any) -> None:
        wl = serializer.instance
        self._writable(wl)
        data = serializer.validated_data
        if "case_id" in data and data["case_id"] != wl.case_id:
            raise ValidationError({"case": "a watchlist cannot move to another case"})
        if "kind" in data and data["kind"] != wl.kind:
            raise ValidationError({"kind": "the kind of a watchlist cannot change"})
        if data.get("webhook_url"):
            try:
                check_webhook_url(data["webhook_url"])
            except ValueError as exc:
                raise ValidationError({"webhook_url": str(exc)}) from exc
        for name in ("name", "description", "enabled", "threshold", "webhook_url"):
            if name in data:
                setattr(wl, name, data[name])
        wl.save()
        if "watched_cases" in data:
            extra = set(data["watched_cases"]) - {wl.case_id}
            allowed = set(Case.objects.writable_by(self.request.user).filter(pk__in=extra).values_list("id", flat=True))
            if extra - allowed:
                raise ValidationError({"watched_cases": "you can only watch cases you may add evidence to"})
            wl.watched_cases.set(allowed)
        if "notify_users" in data:
            try:
                watchlists.set_notified_users(actor=self.request.user, watchlist=wl, usernames=data["notify_users"],
                                              request=self.request)
            except ValueError as exc:
                raise ValidationError({"notify_users": [str(exc)]}) from exc
        audit.record("watchlist.update", actor=self.request.user, target=wl, case_id=wl.case_id, request=self.request,
                     details={k: str(v) for k, v in data.items()})

    def perform_destroy(self, instance: Watchlist) -> None:
        self._writable(instance)
        audit.record("watchlist.delete", actor=self.request.user, target=instance, case_id=instance.case_id,
                     request=self.request, details={"name": instance.name})
        instance.delete()

    @extend_schema(request=WatchlistEntrySerializer, responses=WatchlistEntrySerializer(many=True))
    @action(detail=True, methods=["get", "post"], serializer_class=WatchlistEntrySerializer)
    def entries(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """List entries, or add one: ``{"label": ..., "value": ..., "media_ids": [...]}``."""
        wl = self.get_object()
        if request.method == "POST":
            self._writable(wl)
            ser = WatchlistEntrySerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            try:
                entry = watchlists.add_entry(actor=request.user, watchlist=wl, request=request, **ser.validated_data)
            except ValueError as exc:
                raise ValidationError({"detail": str(exc)}) from exc
            return Response(WatchlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)
        return Response(WatchlistEntrySerializer(wl.entries.all(), many=True).data)


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alerts you may see (you belong to the evidence's case and the watchlist's case). Filter with
    ``?status=new|confirmed|dismissed`` and ``?case=<id>``."""

    serializer_class = AlertSerializer

    def get_queryset(self) -> Any:
        qs = Alert.objects.visible_to(self.request.user).select_related("watchlist").order_by("-created_at", "-id")
        status_ = self.request.query_params.get("status")
        if status_ in AlertStatus.values:
            qs = qs.filter(status=status_)
        case = self.request.query_params.get("case", "")
        if case.isdigit():
            qs = qs.filter(case_id=int(case))
        return qs

    @extend_schema(request=AlertReviewSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"], serializer_class=AlertReviewSerializer)
    def review(self, request: Request, pk: str | None = None, format: str | None = None) -> Response:
        """Confirm or dismiss (a note is required to dismiss), or reopen (``new``)."""
        alert = self.get_object()
        if not Case.objects.writable_by(request.user).filter(pk=alert.case_id).exists():
            raise PermissionDenied("viewers cannot review alerts")
        ser = AlertReviewSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            watchlists.review(alert, actor=request.user, request=request, **ser.validated_data)
        except ValueError as exc:
            raise ValidationError({"note": str(exc)}) from exc
        return Response(AlertSerializer(alert).data)
