"""Embedding spaces, their HNSW indexes, and storing plugin findings.

Each space has a partial expression index::

    CREATE INDEX ... USING hnsw ((vector::vector(<dim>)) vector_cosine_ops) WHERE space_id = <id>

so spaces of different dimensions share one table and each gets an index the
planner uses when the query casts the same way and filters on ``space_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from retrieval.models import EmbeddingSpace, Finding, MediaItem, SpaceState

OPCLASS = {"cosine": "vector_cosine_ops", "l2": "vector_l2_ops", "ip": "vector_ip_ops"}
OPERATOR = {"cosine": "<=>", "l2": "<->", "ip": "<#>"}


def index_name(space: EmbeddingSpace) -> str:
    return f"finding_hnsw_space_{space.pk}"


def get_or_create_space(plugin: str, name: str, model_version: str, dim: int, distance: str = "cosine",
                        *, activate_if_first: bool = True) -> EmbeddingSpace:
    """The space for (plugin, name, model_version); the first space of a name becomes active."""
    if distance not in OPCLASS:
        raise ValueError(f"unknown distance {distance!r}")
    with transaction.atomic():
        space, created = EmbeddingSpace.objects.get_or_create(
            plugin=plugin, name=name, model_version=model_version, defaults={"dim": dim, "distance": distance}
        )
        if space.dim != dim or space.distance != distance:
            raise ValueError(f"space {space} exists as {space.dim}/{space.distance}, plugin says {dim}/{distance}")
        if created and activate_if_first:
            has_active = EmbeddingSpace.objects.filter(plugin=plugin, name=name, state=SpaceState.ACTIVE).exists()
            if not has_active:
                space.state = SpaceState.ACTIVE
                space.activated_at = timezone.now()
                space.save(update_fields=["state", "activated_at"])
    if created:
        ensure_space_index(space)
    return space


def ensure_space_index(space: EmbeddingSpace) -> None:
    """Create the partial HNSW index for ``space`` if missing (idempotent)."""
    sql = (
        f'CREATE INDEX IF NOT EXISTS "{index_name(space)}" ON "{Finding._meta.db_table}" '
        f"USING hnsw ((vector::vector({int(space.dim)})) {OPCLASS[space.distance]}) "
        f"WITH (m = {int(space.hnsw_m)}, ef_construction = {int(space.hnsw_ef_construction)}) "
        f"WHERE space_id = {int(space.pk)}"
    )
    with connection.cursor() as cur:
        if connection.in_atomic_block:
            # Deferred FK checks of this transaction would block CREATE INDEX on the same table: run them now.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute(sql)
    EmbeddingSpace.objects.filter(pk=space.pk).update(index_ready=True)


def drop_space(space: EmbeddingSpace) -> None:
    """Delete a retired space, its vectors and its index."""
    if space.state == SpaceState.ACTIVE:
        raise ValueError("the active space cannot be dropped; activate another one first")
    with connection.cursor() as cur:
        cur.execute(f'DROP INDEX IF EXISTS "{index_name(space)}"')
    # Findings first: the collector does not order a nullable FK, and constraints may be immediate here.
    Finding.objects.filter(space=space).delete()
    space.delete()


def activate_space(space: EmbeddingSpace) -> None:
    """Make ``space`` the one search uses for its (plugin, name), retiring the previous one atomically."""
    with transaction.atomic():
        EmbeddingSpace.objects.select_for_update().filter(plugin=space.plugin, name=space.name)
        EmbeddingSpace.objects.filter(plugin=space.plugin, name=space.name, state=SpaceState.ACTIVE).exclude(
            pk=space.pk
        ).update(state=SpaceState.RETIRED)
        EmbeddingSpace.objects.filter(pk=space.pk).update(state=SpaceState.ACTIVE, activated_at=timezone.now())


@dataclass(frozen=True)
class NewFinding:
    """A finding ready to store (built from a plugin ``Finding`` by the plugin service)."""

    key: str
    space: EmbeddingSpace | None = None
    vector: Sequence[float] | np.ndarray | None = None
    label: str = ""
    score: float | None = None
    text: str = ""
    start_s: float | None = None
    end_s: float | None = None
    box: list[float] | None = None
    data: dict[str, Any] = field(default_factory=dict)


def store_findings(media: MediaItem, plugin: str, model_version: str, findings: Iterable[NewFinding]) -> int:
    """Upsert findings of one plugin version on one media item; returns how many rows were written.

    Re-running a job writes no duplicates (unique key per media/plugin/version).
    Rows of this plugin version that the new run no longer produces are removed.
    """
    rows = []
    for f in findings:
        vector = None
        if f.vector is not None:
            vector = np.asarray(f.vector, dtype=np.float32)
            if f.space is None or vector.shape != (f.space.dim,):
                raise ValueError(f"vector of shape {vector.shape} does not fit space {f.space}")
            if not np.all(np.isfinite(vector)):
                raise ValueError("vector contains NaN or infinity")
        rows.append(Finding(
            media=media, case_id=media.case_id, media_kind=media.kind, plugin=plugin, model_version=model_version,
            key=f.key[:64], space=f.space, vector=vector, label=(f.label or "")[:200], score=f.score,
            text=f.text or "", start_s=f.start_s, end_s=f.end_s, box=f.box, data=f.data or {},
        ))
    with transaction.atomic():
        Finding.objects.filter(media=media, plugin=plugin, model_version=model_version).exclude(
            key__in=[r.key for r in rows]
        ).delete()
        Finding.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["media", "plugin", "model_version", "key"],
            update_fields=["space", "vector", "label", "score", "text", "start_s", "end_s", "box", "data"],
            batch_size=500,
        )
    return len(rows)
