"""Vector search, always restricted to the cases the user may see.

``search_similar`` is the one entry point used by pages, the API and watchlist
matching. Case visibility is part of the SQL ``WHERE`` clause, never a filter
applied to results afterwards, so neighbours from other cases cannot leak.

pgvector applies ``WHERE`` after the HNSW scan, so a selective filter can
return fewer than ``k`` rows. We therefore (1) use an exact scan when the
filtered candidate set is small, and (2) otherwise query the index with a raised
``hnsw.ef_search`` and retry with a larger one, falling back to the exact scan,
until ``k`` rows come back or the filtered set is exhausted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection, transaction

from retrieval.models import Case, EmbeddingSpace, Finding, SpaceState
from retrieval.services.embeddings import OPERATOR

#: Below this many candidate rows an exact scan is both complete and fast.
EXACT_SCAN_MAX_ROWS = 20_000
EF_SEARCH_STEPS = (100, 400, 1000)


@dataclass(frozen=True)
class SearchFilters:
    case_ids: list[int] | None = None  # within the visible ones; None = all visible
    media_kinds: list[str] | None = None
    labels: list[str] | None = None
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None
    exclude_media_ids: list[int] = field(default_factory=list)
    media_ids: list[int] | None = None  # only these media items (e.g. a gallery of enrolled prints); None = all


@dataclass(frozen=True)
class Hit:
    finding_id: int
    media_id: int
    case_id: int
    distance: float
    similarity: float
    label: str
    start_s: float | None
    end_s: float | None
    box: Any


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    path: str  # "exact" or "hnsw(ef=...)"
    candidates: int


def active_space(plugin: str, name: str) -> EmbeddingSpace | None:
    return EmbeddingSpace.objects.filter(plugin=plugin, name=name, state=SpaceState.ACTIVE).first()


def _similarity(distance_kind: str, d: float) -> float:
    if distance_kind == "cosine":
        return 1.0 - d
    if distance_kind == "ip":
        return -d
    return 1.0 / (1.0 + d)


def search_similar(
    user: Any, space: EmbeddingSpace, vector: np.ndarray | list[float], k: int = 10,
    filters: SearchFilters | None = None,
) -> SearchResult:
    """The ``k`` nearest findings in ``space`` among cases visible to ``user``."""
    filters = filters or SearchFilters()
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    if q.shape != (space.dim,):
        raise ValueError(f"query vector has {q.size} dimensions, space {space.name} has {space.dim}")
    if not np.all(np.isfinite(q)):
        raise ValueError("query vector contains NaN or infinity")
    k = max(1, min(int(k), 1000))
    visible = list(Case.objects.visible_to(user).values_list("id", flat=True))
    case_ids = visible if filters.case_ids is None else [c for c in filters.case_ids if c in set(visible)]
    if not case_ids:
        return SearchResult([], "empty", 0)

    where = ["f.space_id = %s", "f.case_id = ANY(%s)", "f.vector IS NOT NULL"]
    params: list[Any] = [space.pk, case_ids]
    if filters.media_kinds:
        where.append("f.media_kind = ANY(%s)")
        params.append(list(filters.media_kinds))
    if filters.labels:
        where.append("f.label = ANY(%s)")
        params.append(list(filters.labels))
    if filters.media_ids is not None:
        where.append("f.media_id = ANY(%s)")
        params.append(list(filters.media_ids))
    if filters.exclude_media_ids:
        where.append("NOT (f.media_id = ANY(%s))")
        params.append(list(filters.exclude_media_ids))
    join = ""
    if filters.uploaded_after or filters.uploaded_before:
        join = 'JOIN "retrieval_mediaitem" m ON m.id = f.media_id'
        if filters.uploaded_after:
            where.append("m.uploaded_at >= %s")
            params.append(filters.uploaded_after)
        if filters.uploaded_before:
            where.append("m.uploaded_at < %s")
            params.append(filters.uploaded_before)
    where_sql = " AND ".join(where)
    table = Finding._meta.db_table
    op = OPERATOR[space.distance]
    dist = f"(f.vector::vector({int(space.dim)}) {op} %s::vector({int(space.dim)}))"
    qtext = "[" + ",".join(f"{x:.8g}" for x in q.tolist()) + "]"
    select = (
        f"SELECT f.id, f.media_id, f.case_id, {dist} AS distance, f.label, f.start_s, f.end_s, f.box "
        f'FROM "{table}" f {join} WHERE {where_sql} ORDER BY distance LIMIT %s'
    )
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM (SELECT 1 FROM "{table}" f {join} WHERE {where_sql} LIMIT %s) s',
                    [*params, EXACT_SCAN_MAX_ROWS + 1])
        candidates = int(cur.fetchone()[0])
        rows: list[tuple[Any, ...]] = []
        path = "exact"
        if candidates <= EXACT_SCAN_MAX_ROWS:
            cur.execute("SET LOCAL enable_indexscan = off")
            cur.execute(select, [qtext, *params, k])
            rows = cur.fetchall()
            cur.execute("SET LOCAL enable_indexscan = on")
        else:
            for ef in EF_SEARCH_STEPS:
                cur.execute(f"SET LOCAL hnsw.ef_search = {max(ef, k)}")
                cur.execute(select, [qtext, *params, k])
                rows = cur.fetchall()
                path = f"hnsw(ef={max(ef, k)})"
                if len(rows) >= k:
                    break
            else:
                cur.execute("SET LOCAL enable_indexscan = off")
                cur.execute(select, [qtext, *params, k])
                rows = cur.fetchall()
                path = "exact(fallback)"
    hits = [
        Hit(finding_id=r[0], media_id=r[1], case_id=r[2], distance=float(r[3]),
            similarity=_similarity(space.distance, float(r[3])), label=r[4], start_s=r[5], end_s=r[6], box=r[7])
        for r in rows
    ]
    return SearchResult(hits, path, candidates)
