"""Reference collections (known recordings to find in evidence) and their fingerprint hash store.

A ``ReferenceCollection`` belongs to one case: only that case's members see it,
owners and investigators add or delete recordings. A ``ReferenceRecording`` is one
reference audio file; its bytes live in the content-addressed evidence store
(``retrieval.storage``: written once, never deleted), its landmark hashes in the
hash store below.

Hash store (layout and the reasons for it: ``docs/architecture.md`` "Reference
recordings"): packed inverted lists, one row per (hash value, generation).
``FingerprintPosting.postings`` is a little-endian int32 array of
``(track_id, t)`` pairs, sorted, where ``track_id`` is the recording id and
``t`` the anchor frame (16 ms). One ingest batch writes one *generation* with a
single ``COPY``; deletion writes a tombstone and a compaction rewrites the
generations concerned without the deleted tracks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models

from retrieval.models.cases import Case

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class ReferenceCollectionQuerySet(models.QuerySet["ReferenceCollection"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ReferenceCollectionQuerySet:
        return self.filter(case__in=Case.objects.visible_to(user))

    def writable_by(self, user: AbstractBaseUser | AnonymousUser) -> ReferenceCollectionQuerySet:
        return self.filter(case__in=Case.objects.writable_by(user))


class ReferenceCollection(models.Model):
    """A named set of known recordings kept by one case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reference_collections")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReferenceCollectionQuerySet.as_manager()

    class Meta:
        ordering = ["case_id", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "name"], name="uniq_refcollection_name")]

    def __str__(self) -> str:
        return self.name


class RecordingStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    PROCESSING = "processing", "Fingerprinting"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ReferenceRecordingQuerySet(models.QuerySet["ReferenceRecording"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ReferenceRecordingQuerySet:
        return self.filter(collection__case__in=Case.objects.visible_to(user))


class ReferenceRecording(models.Model):
    """One reference audio file of a collection; its id is the ``track_id`` of its hashes."""

    collection = models.ForeignKey(ReferenceCollection, on_delete=models.CASCADE, related_name="recordings")
    title = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=RecordingStatus.choices, default=RecordingStatus.PENDING)
    error = models.TextField(blank=True)
    # Ready, but only part of the file could be fingerprinted (cut or damaged): matches beyond it cannot be found.
    warning = models.TextField(blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    n_hashes = models.IntegerField(default=0)
    n_frames = models.IntegerField(default=0)
    model_version = models.CharField(max_length=128, blank=True)
    #: ``FingerprintGeneration`` id that holds this recording's hashes (``None`` until fingerprinted).
    generation = models.IntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    objects = ReferenceRecordingQuerySet.as_manager()

    class Meta:
        ordering = ["collection_id", "title", "id"]
        constraints = [models.UniqueConstraint(fields=["collection", "sha256"], name="uniq_recording_per_collection")]
        indexes = [models.Index(fields=["status", "model_version"])]

    def __str__(self) -> str:
        return self.title


class FingerprintGeneration(models.Model):
    """One ingest batch (or one compaction) of hashes; the snapshot cache watches these ids."""

    id = models.AutoField(primary_key=True)
    model_version = models.CharField(max_length=128)
    n_tracks = models.IntegerField(default=0)
    n_postings = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"generation {self.pk} ({self.model_version}, {self.n_tracks} tracks)"


class FingerprintPosting(models.Model):
    """Packed inverted list of one hash value in one generation (see the module docstring)."""

    pk = models.CompositePrimaryKey("hash", "gen")
    hash = models.IntegerField()
    gen = models.IntegerField()
    postings = models.BinaryField()

    class Meta:
        db_table = "retrieval_afp_posting"

    def __str__(self) -> str:
        return f"hash {self.hash} gen {self.gen}"


class FingerprintTombstone(models.Model):
    """A deleted recording whose hashes are still in generation ``gen`` until compaction removes them."""

    track_id = models.BigIntegerField()
    gen = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["gen"])]

    def __str__(self) -> str:
        return f"deleted track {self.track_id} in generation {self.gen}"
