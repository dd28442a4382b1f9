"""Plugin output: findings (labels, regions, text) with optional vectors in pgvector.

The ``vector`` column is untyped so that every embedding space (any dimension)
shares one table; each space gets its own partial HNSW index over
``(vector::vector(dim))`` restricted to ``space_id = <id>`` (created by
``services.embeddings.ensure_space_index``). Queries cast the same way and
always filter on ``space_id`` so the planner can use that index.
"""

from __future__ import annotations

from django.db import models
from pgvector.django import VectorField

from retrieval.models.media import MediaItem


class SpaceState(models.TextChoices):
    BUILDING = "building", "Building"  # being filled by (re)processing; not searched yet
    ACTIVE = "active", "Active"  # the one search uses for this plugin/space name
    RETIRED = "retired", "Retired"  # replaced; kept until an administrator drops it


class EmbeddingSpace(models.Model):
    """One vector space: a plugin's ``EmbeddingSpec`` under one model version."""

    plugin = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    model_version = models.CharField(max_length=128)
    dim = models.PositiveIntegerField()
    distance = models.CharField(max_length=8, default="cosine")
    state = models.CharField(max_length=16, choices=SpaceState.choices, default=SpaceState.BUILDING)
    hnsw_m = models.PositiveSmallIntegerField(default=16)
    hnsw_ef_construction = models.PositiveSmallIntegerField(default=64)
    #: Smallest hnsw.ef_search of the index path for this space; None: the MMSEC_SEARCH_EF_MIN setting.
    ef_search_min = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Smallest hnsw.ef_search of the index path (1-1000); empty: the "
        "MMSEC_SEARCH_EF_MIN setting. Higher: better recall, slower queries. Applies at once.")
    index_ready = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plugin", "name", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["plugin", "name", "model_version"], name="uniq_space_version"),
            models.UniqueConstraint(
                fields=["plugin", "name"], condition=models.Q(state="active"), name="one_active_space"
            ),
            models.CheckConstraint(condition=models.Q(dim__gte=1, dim__lte=2000), name="space_dim_range"),
        ]

    def __str__(self) -> str:
        return f"{self.plugin}/{self.name}@{self.model_version} ({self.dim}-d {self.distance}, {self.state})"


class Finding(models.Model):
    """One fact a plugin found in one media item (optionally with a vector).

    ``case_id`` and ``media_kind`` are copied from the media item so that
    search can filter in the same table scan as the vector comparison.
    ``key`` makes writes idempotent: re-running a job upserts the same rows.
    """

    media = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="findings")
    case_id = models.BigIntegerField(db_index=True)
    media_kind = models.CharField(max_length=16)
    plugin = models.CharField(max_length=64)
    model_version = models.CharField(max_length=128)
    key = models.CharField(max_length=64)
    space = models.ForeignKey(EmbeddingSpace, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    vector = VectorField(null=True, blank=True)
    label = models.CharField(max_length=200, blank=True)
    score = models.FloatField(null=True, blank=True)
    text = models.TextField(blank=True)
    start_s = models.FloatField(null=True, blank=True)
    end_s = models.FloatField(null=True, blank=True)
    box = models.JSONField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["media_id", "start_s", "id"]
        constraints = [
            models.UniqueConstraint(fields=["media", "plugin", "model_version", "key"], name="uniq_finding_key"),
        ]
        indexes = [
            models.Index(fields=["space", "case_id"]),
            models.Index(fields=["media", "plugin"]),
            models.Index(fields=["plugin", "label"]),
        ]

    def __str__(self) -> str:
        return f"{self.plugin}:{self.label or self.key} on media {self.media_id}"
