"""Evidence items. The original file is stored once, addressed by SHA-256, and never modified."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from retrieval.models.cases import Case


class MediaKind(models.TextChoices):
    IMAGE = "image", "Image"
    AUDIO = "audio", "Audio"
    VIDEO = "video", "Video"
    UNKNOWN = "unknown", "Unknown"


class MediaStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class MediaItemQuerySet(models.QuerySet["MediaItem"]):
    def visible_to(self, user: object) -> MediaItemQuerySet:
        return self.filter(case__in=Case.objects.visible_to(user))  # type: ignore[arg-type]


class MediaItem(models.Model):
    """One uploaded file in one case (the same bytes in two cases are two items, one stored file)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="media")
    original_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=MediaKind.choices, default=MediaKind.UNKNOWN)
    mime = models.CharField(max_length=100, blank=True)
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    sample_rate = models.IntegerField(null=True, blank=True)
    channels = models.IntegerField(null=True, blank=True)
    codec = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    has_preview = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=MediaStatus.choices, default=MediaStatus.PENDING)
    error = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MediaItemQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["case", "sha256"], name="uniq_media_per_case")]
        indexes = [
            models.Index(fields=["case", "-uploaded_at", "-id"]),
            models.Index(fields=["case", "kind"]),
            models.Index(fields=["case", "status"]),
            models.Index(fields=["sha256"]),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.kind})"
