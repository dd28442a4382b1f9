"""People in a case: persons (clusters of face findings), face memberships, video face tracks.

A ``Person`` groups face findings of one case that show the same individual. It
is created by clustering (named "Unknown #n" until someone names it) or by a
user (split). ``FaceAssignment`` links one face finding to one person; the
finding itself stays in ``Finding`` (plugin output, vectors in pgvector).
``FaceTrack`` groups the faces of one video across sampled frames and keeps the
best-quality face and the time span, so persons and hits point to a moment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from pgvector.django import VectorField

from retrieval.models.cases import Case
from retrieval.models.embeddings import EmbeddingSpace, Finding
from retrieval.models.media import MediaItem


class PersonQuerySet(models.QuerySet["Person"]):
    def visible_to(self, user: object) -> PersonQuerySet:
        return self.filter(case__in=Case.objects.visible_to(user))  # type: ignore[arg-type]

    def writable_by(self, user: object) -> PersonQuerySet:
        return self.filter(case__in=Case.objects.writable_by(user))  # type: ignore[arg-type]


class PersonOrigin(models.TextChoices):
    CLUSTERING = "clustering", "Clustering"
    USER = "user", "User"


class Person(models.Model):
    """One individual seen in a case's evidence (faces of one embedding space)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="persons")
    #: Persons live in one embedding space (vectors of two model versions do not compare); dropping
    #: a retired version drops its persons with its faces.
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()  # "Unknown #n" until named; unique per case
    name = models.CharField(max_length=200, blank=True)
    origin = models.CharField(max_length=16, choices=PersonOrigin.choices, default=PersonOrigin.CLUSTERING)
    representative = models.ForeignKey(Finding, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    #: Quality-weighted unit mean of the members' vectors (incremental assignment compares with it).
    centroid = VectorField(null=True, blank=True)
    face_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["case_id", "-face_count", "number"]
        constraints = [models.UniqueConstraint(fields=["case", "number"], name="uniq_person_number")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or f"Unknown #{self.number}"


class AssignedBy(models.TextChoices):
    CLUSTERING = "clustering", "Clustering pass"
    INCREMENTAL = "incremental", "New upload, nearest person"
    USER = "user", "User"


class FaceAssignment(models.Model):
    """Face finding → person (at most one person per face)."""

    finding = models.OneToOneField(Finding, on_delete=models.CASCADE, related_name="face_assignment")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="assignments")
    case_id = models.BigIntegerField(db_index=True)
    similarity = models.FloatField(null=True, blank=True)  # cosine to the person's centroid when assigned
    assigned_by = models.CharField(max_length=16, choices=AssignedBy.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["person_id", "-similarity", "id"]
        indexes = [models.Index(fields=["person", "finding"])]

    def __str__(self) -> str:
        return f"face {self.finding_id} → person {self.person_id}"


class FaceTrack(models.Model):
    """The faces of one video followed across sampled frames (one plugin model version)."""

    media = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="face_tracks")
    case_id = models.BigIntegerField(db_index=True)
    plugin = models.CharField(max_length=64)
    model_version = models.CharField(max_length=128)
    index = models.PositiveIntegerField()
    start_s = models.FloatField()
    end_s = models.FloatField()
    best = models.ForeignKey(Finding, null=True, on_delete=models.SET_NULL, related_name="+")
    best_quality = models.FloatField(default=0.0)
    face_count = models.PositiveIntegerField(default=0)
    finding_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["media_id", "start_s", "index"]
        constraints = [
            models.UniqueConstraint(fields=["media", "plugin", "model_version", "index"], name="uniq_face_track"),
        ]

    def __str__(self) -> str:
        return f"face track {self.index} of media {self.media_id} ({self.start_s:.1f}-{self.end_s:.1f} s)"


class ClusterRunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class FaceClusterRun(models.Model):
    """One clustering pass over a case (run by Celery; the gallery polls its progress)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="face_cluster_runs")
    state = models.CharField(max_length=16, choices=ClusterRunState.choices, default=ClusterRunState.QUEUED)
    progress = models.FloatField(default=0.0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"clustering of case {self.case_id} ({self.state})"
