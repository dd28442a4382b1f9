"""Data model. One module per aggregate; this package re-exports them all."""

from __future__ import annotations

from retrieval.models.audit import AuditEvent
from retrieval.models.cases import Case, CaseMembership, CaseRole, CaseStatus
from retrieval.models.embeddings import EmbeddingSpace, Finding, SpaceState
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
    "Finding",
    "JobState",
    "MediaItem",
    "MediaKind",
    "MediaStatus",
    "ModelVersion",
    "PluginConfiguration",
    "ProcessingJob",
    "ReprocessRun",
    "SpaceState",
    "WorkerStatus",
]
