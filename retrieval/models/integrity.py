"""Integrity of stored originals: the result of the last re-hash of each media item's file."""

from __future__ import annotations

from django.db import models

from retrieval.models.media import MediaItem


class IntegrityCheck(models.Model):
    """One row per media item, updated by ``services.integrity.verify_originals`` (the item's integrity flag)."""

    media = models.OneToOneField(MediaItem, on_delete=models.CASCADE, primary_key=True, related_name="integrity")
    checked_at = models.DateTimeField(db_index=True)
    ok = models.BooleanField()
    actual_sha256 = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["ok", "checked_at"])]

    def __str__(self) -> str:
        return f"media {self.media_id}: {'ok' if self.ok else 'FAILED'} at {self.checked_at:%Y-%m-%d %H:%M}"
