"""API representations. Field names are the public contract of /api/v1/."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from retrieval.models import AuditEvent, Case, CaseMembership, CaseRole, MediaItem, ProcessingJob


class CaseSerializer(serializers.ModelSerializer):
    my_role = serializers.SerializerMethodField()
    media_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Case
        fields = ["id", "title", "description", "status", "created_at", "updated_at", "my_role", "media_count"]
        read_only_fields = ["id", "created_at", "updated_at", "my_role", "media_count"]

    def get_my_role(self, case: Case) -> str | None:
        request = self.context.get("request")
        roles = getattr(case, "_my_role", None)
        if roles is not None:
            return roles
        return case.role_of(request.user) if request else None


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(
        source="user", slug_field="username", queryset=get_user_model().objects.filter(is_active=True)
    )
    role = serializers.ChoiceField(choices=CaseRole.choices)

    class Meta:
        model = CaseMembership
        fields = ["id", "username", "role", "added_at"]
        read_only_fields = ["id", "added_at"]


class JobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProcessingJob
        fields = ["step", "state", "attempts", "progress", "error", "warning", "created_at", "started_at",
                  "finished_at"]


class MediaSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField()

    class Meta:
        model = MediaItem
        fields = [
            "id", "case", "original_name", "sha256", "size", "kind", "mime", "width", "height", "duration_s",
            "sample_rate", "channels", "codec", "status", "error", "uploaded_at", "updated_at", "has_preview",
            "download_url", "preview_url",
        ]
        read_only_fields = fields

    def get_download_url(self, media: MediaItem) -> str:
        return f"/api/v1/media/{media.pk}/download/"

    def get_preview_url(self, media: MediaItem) -> str | None:
        return f"/api/v1/media/{media.pk}/preview/" if media.has_preview else None


class MediaDetailSerializer(MediaSerializer):
    jobs = JobSerializer(many=True, read_only=True)

    class Meta(MediaSerializer.Meta):
        fields = [*MediaSerializer.Meta.fields, "metadata", "jobs"]
        read_only_fields = fields


class UploadSerializer(serializers.Serializer):
    case = serializers.IntegerField(help_text="id of a case where you are owner or investigator")
    file = serializers.ListField(child=serializers.FileField(), help_text="one or more files (multipart field 'file')")


class UploadResultSerializer(serializers.Serializer):
    created = serializers.BooleanField()
    media = MediaSerializer()


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "time", "actor_name", "action", "target_type", "target_id", "case_id", "details"]
        read_only_fields = fields


class SimilarSearchSerializer(serializers.Serializer):
    plugin = serializers.CharField()
    space = serializers.CharField()
    vector = serializers.ListField(child=serializers.FloatField(), required=False)
    finding = serializers.IntegerField(required=False, help_text="use a stored finding's vector as the query")
    k = serializers.IntegerField(min_value=1, max_value=1000, default=10)
    cases = serializers.ListField(child=serializers.IntegerField(), required=False)
    media_kinds = serializers.ListField(child=serializers.CharField(), required=False)
    cursor = serializers.CharField(required=False, help_text="`next_cursor` of the previous page (same query)")

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("vector") and not attrs.get("finding"):
            raise serializers.ValidationError("give either 'vector' or 'finding'")
        return attrs


class HitSerializer(serializers.Serializer):
    finding_id = serializers.IntegerField()
    media_id = serializers.IntegerField()
    case_id = serializers.IntegerField()
    distance = serializers.FloatField()
    similarity = serializers.FloatField()
    label = serializers.CharField()
    start_s = serializers.FloatField(allow_null=True)
    end_s = serializers.FloatField(allow_null=True)
    box = serializers.JSONField(allow_null=True)
