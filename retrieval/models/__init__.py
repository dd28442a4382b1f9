"""Data model. One module per aggregate; this package re-exports them all."""

from __future__ import annotations

from retrieval.models.audit import AuditEvent
from retrieval.models.cases import Case, CaseMembership, CaseRole, CaseStatus
from retrieval.models.embeddings import EmbeddingSpace, Finding, SpaceState
from retrieval.models.integrity import IntegrityCheck
from retrieval.models.jobs import JobState, ProcessingJob
from retrieval.models.media import MediaItem, MediaKind, MediaStatus
from retrieval.models.plugins import Device, ModelVersion, PluginConfiguration, ReprocessRun, WorkerStatus

__all__ = [
    "AuditEvent",
    "Case",
    "CaseMembership",
    "CaseRole",
    "CaseStatus",
    "Device",
    "EmbeddingSpace",
    "Finding",
    "IntegrityCheck",
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
