"""Embedding spaces, their HNSW indexes, and storing plugin findings.

Each space has a partial expression index::

    CREATE INDEX ... USING hnsw ((vector::vector(<dim>)) vector_cosine_ops) WHERE space_id = <id>

so spaces of different dimensions share one table and each gets an index the
planner uses when the query casts the same way and filters on ``space_id``.

Spaces of up to ``EXACT_INDEX_MAX_DIM`` dimensions also get a covering btree for the exact path::

    CREATE INDEX ... (case_id) INCLUDE (id, vector) WHERE space_id = <id> AND vector IS NOT NULL

An exact scan of a case filter then reads the vectors of those cases side by side from the index (an
index-only scan) instead of visiting a heap page per row: about 3x faster for a 10 % filter of 1M face
vectors (docs/benchmarks/vector_search.md), at the cost of a second copy of the space's vectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from retrieval.models import EmbeddingSpace, Finding, MediaItem, SpaceState
from retrieval.services import partitioning

OPCLASS = {"cosine": "vector_cosine_ops", "l2": "vector_l2_ops", "ip": "vector_ip_ops"}
OPERATOR = {"cosine": "<=>", "l2": "<->", "ip": "<#>"}


#: Widest space that gets the covering exact-path index: a btree entry must fit in about a third of a page
#: (2,704 bytes) and a vector takes 8 + 4 x dim of them.
EXACT_INDEX_MAX_DIM = 512


def index_name(space: EmbeddingSpace) -> str:
    return f"finding_hnsw_space_{space.pk}"


def exact_index_name(space_pk: int) -> str:
    return f"finding_exact_space_{space_pk}"


def has_exact_index(space: EmbeddingSpace) -> bool:
    """Whether ``space`` gets the covering btree of the exact path (see the module docstring)."""
    return int(space.dim) <= EXACT_INDEX_MAX_DIM


def exact_index_sql(space_pk: int) -> str:
    """``CREATE INDEX`` of the covering exact-path btree of space ``space_pk`` (plain ints: migrations use it)."""
    return (f'CREATE INDEX IF NOT EXISTS "{exact_index_name(space_pk)}" ON "{Finding._meta.db_table}" '
            f"(case_id) INCLUDE (id, vector) WHERE space_id = {int(space_pk)} AND vector IS NOT NULL")


def get_or_create_space(plugin: str, name: str, model_version: str, dim: int, distance: str = "cosine",
                        *, activate_if_first: bool = True, hnsw_m: int = 16, hnsw_ef_construction: int = 64,
                        ef_search_min: int | None = None) -> EmbeddingSpace:
    """The space for (plugin, name, model_version); the first space of a name becomes active.

    The index parameters apply to a space created here; an existing space keeps what it has (an administrator
    may have changed them).
    """
    if distance not in OPCLASS:
        raise ValueError(f"unknown distance {distance!r}")
    validate_hnsw_params(hnsw_m, hnsw_ef_construction, ef_search_min)
    with transaction.atomic():
        space, created = EmbeddingSpace.objects.get_or_create(
            plugin=plugin, name=name, model_version=model_version,
            defaults={"dim": dim, "distance": distance, "hnsw_m": hnsw_m,
                      "hnsw_ef_construction": hnsw_ef_construction, "ef_search_min": ef_search_min},
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


def index_sql(space: EmbeddingSpace, name: str | None = None, *, concurrently: bool = False) -> str:
    """``CREATE INDEX`` for the partial HNSW index of ``space`` with its own m / ef_construction."""
    return (
        f'CREATE INDEX {"CONCURRENTLY " if concurrently else ""}IF NOT EXISTS "{name or index_name(space)}" '
        f'ON "{Finding._meta.db_table}" '
        f"USING hnsw ((vector::vector({int(space.dim)})) {OPCLASS[space.distance]}) "
        f"WITH (m = {int(space.hnsw_m)}, ef_construction = {int(space.hnsw_ef_construction)}) "
        f"WHERE space_id = {int(space.pk)}"
    )


def build_session_settings() -> list[str]:
    """``SET`` statements for an index build (memory: the graph must fit or the build is ~10x slower)."""
    stmts = []
    if settings.MMSEC_HNSW_BUILD_MEMORY:
        stmts.append(f"SET maintenance_work_mem = '{settings.MMSEC_HNSW_BUILD_MEMORY}'")
    if settings.MMSEC_HNSW_BUILD_WORKERS >= 0:
        stmts.append(f"SET max_parallel_maintenance_workers = {int(settings.MMSEC_HNSW_BUILD_WORKERS)}")
    return stmts


def ensure_space_index(space: EmbeddingSpace) -> None:
    """Create the partial HNSW index for ``space`` (and its exact-path btree) if missing (idempotent)."""
    with connection.cursor() as cur:
        if connection.in_atomic_block:
            # Deferred FK checks of this transaction would block CREATE INDEX on the same table: run them now.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        stmts = build_session_settings()
        for stmt in stmts:
            cur.execute(stmt)
        cur.execute(index_sql(space))
        if has_exact_index(space):
            cur.execute(exact_index_sql(space.pk))
        if stmts:
            cur.execute("RESET maintenance_work_mem; RESET max_parallel_maintenance_workers")
        if connection.in_atomic_block:
            cur.execute("SET CONSTRAINTS ALL DEFERRED")  # back to Django's INITIALLY DEFERRED for the rest
    EmbeddingSpace.objects.filter(pk=space.pk).update(index_ready=True)


def drop_space(space: EmbeddingSpace) -> None:
    """Delete a retired space, its vectors and its index."""
    if space.state == SpaceState.ACTIVE:
        raise ValueError("the active space cannot be dropped; activate another one first")
    with connection.cursor() as cur:
        cur.execute(f'DROP INDEX IF EXISTS "{index_name(space)}"')
        cur.execute(f'DROP INDEX IF EXISTS "{exact_index_name(space.pk)}"')
    # Findings first: their FK to the space is checked immediately when an index was built earlier in
    # this transaction (ensure_space_index sets constraints IMMEDIATE), and the collector deletes
    # rows of a nullable FK after their target.
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
    # A reprocess run just filled this space: planner statistics must see it before search does.
    transaction.on_commit(analyze_findings)


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
    # A partitioned findings table (services.partitioning) has the space in its upsert key.
    unique, update = ["media", "plugin", "model_version", "key"], ["space", "vector", "label", "score", "text",
                                                                     "start_s", "end_s", "box", "data"]
    if partitioning.is_partitioned():
        unique, update = [*unique, "space"], update[1:]
    with transaction.atomic():
        Finding.objects.filter(media=media, plugin=plugin, model_version=model_version).exclude(
            key__in=[r.key for r in rows]
        ).delete()
        Finding.objects.bulk_create(rows, update_conflicts=True, unique_fields=unique, update_fields=update,
                                    batch_size=500)
    if len(rows) >= settings.MMSEC_ANALYZE_AFTER_ROWS:
        transaction.on_commit(analyze_findings)  # a bulk load: keep the planner's row estimates true
    return len(rows)


# --------------------------------------------------------------------------- index management

#: pgvector's limits for the HNSW build parameters and for hnsw.ef_search.
HNSW_M_RANGE = (2, 100)
HNSW_EF_CONSTRUCTION_RANGE = (4, 1000)
EF_SEARCH_RANGE = (1, 1000)


def validate_hnsw_params(m: int, ef_construction: int, ef_search_min: int | None = None) -> None:
    if ef_search_min is not None and not EF_SEARCH_RANGE[0] <= ef_search_min <= EF_SEARCH_RANGE[1]:
        raise ValueError(f"ef_search_min must be between {EF_SEARCH_RANGE[0]} and {EF_SEARCH_RANGE[1]} "
                         "(or empty: the MMSEC_SEARCH_EF_MIN setting)")
    if not HNSW_M_RANGE[0] <= m <= HNSW_M_RANGE[1]:
        raise ValueError(f"m must be between {HNSW_M_RANGE[0]} and {HNSW_M_RANGE[1]}")
    if not HNSW_EF_CONSTRUCTION_RANGE[0] <= ef_construction <= HNSW_EF_CONSTRUCTION_RANGE[1]:
        raise ValueError(f"ef_construction must be between {HNSW_EF_CONSTRUCTION_RANGE[0]} and "
                         f"{HNSW_EF_CONSTRUCTION_RANGE[1]}")
    if ef_construction < 2 * m:
        raise ValueError("ef_construction must be at least 2 x m")


def analyze_findings() -> None:
    """Refresh planner statistics of the findings table (after bulk loads: reprocess runs, large stores)."""
    with connection.cursor() as cur:
        cur.execute(f'ANALYZE "{Finding._meta.db_table}"')


def _rebuild_name(space: EmbeddingSpace) -> str:
    return f"{index_name(space)}_new"


def rebuild_space_index(space_id: int) -> dict[str, Any]:
    """Rebuild the space's HNSW index with its current ``hnsw_m`` / ``hnsw_ef_construction``.

    Builds ``<index>_new`` with ``CREATE INDEX CONCURRENTLY`` (search and writes go on; must run outside a
    transaction), then swaps it in for the old index in one short transaction and ANALYZEs.
    """
    if connection.in_atomic_block:
        raise RuntimeError("rebuild_space_index must run outside a transaction (CREATE INDEX CONCURRENTLY)")
    space = EmbeddingSpace.objects.get(pk=space_id)
    validate_hnsw_params(space.hnsw_m, space.hnsw_ef_construction)
    new, old = _rebuild_name(space), index_name(space)
    EmbeddingSpace.objects.filter(pk=space.pk).update(index_ready=False)
    started = timezone.now()
    concurrent = not partitioning.is_partitioned()  # not possible on a partitioned table: writes wait there
    with connection.cursor() as cur:
        # left over by an interrupted rebuild
        cur.execute(f'DROP INDEX {"CONCURRENTLY " if concurrent else ""}IF EXISTS "{new}"')
        for stmt in build_session_settings():
            cur.execute(stmt)
        cur.execute(index_sql(space, new, concurrently=concurrent))
        cur.execute("RESET maintenance_work_mem; RESET max_parallel_maintenance_workers")
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f'DROP INDEX IF EXISTS "{old}"')
        cur.execute(f'ALTER INDEX "{new}" RENAME TO "{old}"')
    analyze_findings()
    EmbeddingSpace.objects.filter(pk=space.pk).update(index_ready=True)
    return {"space": space.pk, "seconds": round((timezone.now() - started).total_seconds(), 1), **index_info(space)}


#: Size of index ``c``; a partitioned index (services.partitioning) has none of its own: its partitions' sum.
_SIZE = ("coalesce((SELECT sum(pg_relation_size(t.relid)) FROM pg_partition_tree(c.oid) t WHERE t.isleaf), "
         "pg_relation_size(c.oid))")


def index_info(space: EmbeddingSpace) -> dict[str, Any]:
    """Size and build options of the live index (``{}`` if it does not exist)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT {_SIZE}, c.reloptions, i.indisvalid FROM pg_class c "
                    "JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = %s", [index_name(space)])
        row = cur.fetchone()
    if not row or row[0] is None:  # NULL size: dropped after this snapshot saw it (a rebuild's swap)
        return {}
    options = dict(opt.split("=", 1) for opt in (row[1] or []))
    return {"bytes": int(row[0]), "valid": bool(row[2]), "m": int(options.get("m", 16)),
            "ef_construction": int(options.get("ef_construction", 64))}


def exact_index_bytes(space: EmbeddingSpace) -> int | None:
    """Size of the space's covering exact-path index (None: the space has none)."""
    with connection.cursor() as cur:
        cur.execute(f"SELECT {_SIZE} FROM pg_class c WHERE c.relname = %s", [exact_index_name(space.pk)])
        row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def index_build_progress(space: EmbeddingSpace) -> dict[str, Any] | None:
    """Progress of a running build of this space's index, from ``pg_stat_progress_create_index``; None if idle."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT p.phase, p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total "
            "FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.index_relid "
            "WHERE c.relname IN (%s, %s)", [index_name(space), _rebuild_name(space)])
        row = cur.fetchone()
    if not row:
        return None
    phase, blocks_done, blocks_total, tuples_done, tuples_total = row
    percent = 100.0 * blocks_done / blocks_total if blocks_total else 0.0
    return {"phase": phase, "blocks_done": blocks_done, "blocks_total": blocks_total, "tuples_done": tuples_done,
            "tuples_total": tuples_total, "percent": round(percent, 1)}


_KEEP: Any = object()


def update_hnsw_params(*, actor: Any, space: EmbeddingSpace, m: int, ef_construction: int,
                       ef_search_min: int | None = _KEEP, request: Any = None) -> EmbeddingSpace:
    """Change the index parameters of a space.

    ``m`` / ``ef_construction`` apply at the next index rebuild; ``ef_search_min`` (None: the setting) applies to
    the next search at once.
    """
    from retrieval.services import audit

    # "before" from the database: callers such as the admin pass the object with the new values already set
    stored = EmbeddingSpace.objects.filter(pk=space.pk).values("hnsw_m", "hnsw_ef_construction", "ef_search_min").get()
    if ef_search_min is _KEEP:
        ef_search_min = stored["ef_search_min"]
    validate_hnsw_params(m, ef_construction, ef_search_min)
    before = {"m": stored["hnsw_m"], "ef_construction": stored["hnsw_ef_construction"],
              "ef_search_min": stored["ef_search_min"]}
    EmbeddingSpace.objects.filter(pk=space.pk).update(hnsw_m=m, hnsw_ef_construction=ef_construction,
                                                      ef_search_min=ef_search_min)
    space.hnsw_m, space.hnsw_ef_construction, space.ef_search_min = m, ef_construction, ef_search_min
    audit.record("space.hnsw_params", actor=actor, target=space, request=request,
                 details={"before": before,
                          "after": {"m": m, "ef_construction": ef_construction, "ef_search_min": ef_search_min}})
    return space


def request_index_rebuild(*, actor: Any, space: EmbeddingSpace, request: Any = None) -> None:
    """Queue a rebuild of the space's HNSW index on the ``default`` queue (a Celery worker runs it)."""
    from retrieval import tasks
    from retrieval.services import audit

    audit.record("space.index_rebuild", actor=actor, target=space, request=request,
                 details={"m": space.hnsw_m, "ef_construction": space.hnsw_ef_construction})
    transaction.on_commit(lambda: tasks.rebuild_space_index.apply_async(args=[space.pk], queue="default"))
