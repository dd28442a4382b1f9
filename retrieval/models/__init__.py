"""Data model. One module per aggregate; this package re-exports them all."""

from __future__ import annotations

from retrieval.models.audit import AuditEvent
from retrieval.models.cases import Case, CaseMembership, CaseRole, CaseStatus
from retrieval.models.embeddings import EmbeddingSpace, Finding, SpaceState
from retrieval.models.faces import FaceAssignment, FaceClusterRun, FaceTrack, Person
from retrieval.models.fingerprints import Enrolment, FingerPosition, Subject
from retrieval.models.integrity import IntegrityCheck
from retrieval.models.jobs import JobState, ProcessingJob
from retrieval.models.media import MediaItem, MediaKind, MediaStatus
from retrieval.models.plugins import Device, ModelVersion, PluginConfiguration, ReprocessRun, WorkerStatus
from retrieval.models.references import (
    FingerprintGeneration,
    FingerprintPosting,
    FingerprintTombstone,
    RecordingStatus,
    ReferenceCollection,
    ReferenceRecording,
)
from retrieval.models.searches import SavedSearch
from retrieval.models.watchlists import (
    Alert,
    AlertStatus,
    Watchlist,
    WatchlistEntry,
    WatchlistKind,
)

__all__ = [
    "FingerprintGeneration",
    "FingerprintPosting",
    "FingerprintTombstone",
    "RecordingStatus",
    "ReferenceCollection",
    "ReferenceRecording",
    "Alert",
    "AlertStatus",
    "Watchlist",
    "WatchlistEntry",
    "WatchlistKind",
    "AuditEvent",
    "Case",
    "CaseMembership",
    "CaseRole",
    "CaseStatus",
    "Device",
    "EmbeddingSpace",
    "FaceAssignment",
    "FaceClusterRun",
    "FaceTrack",
    "Enrolment",
    "FingerPosition",
    "Subject",
    "Finding",
    "IntegrityCheck",
    "JobState",
    "MediaItem",
    "MediaKind",
    "MediaStatus",
    "ModelVersion",
    "Person",
    "PluginConfiguration",
    "ProcessingJob",
    "ReprocessRun",
    "SavedSearch",
    "SpaceState",
    "WorkerStatus",
]
