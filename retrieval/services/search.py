"""Vector search, always restricted to the cases the user may see.

``search_similar`` is the one entry point used by pages, the API and watchlist
matching. Case visibility is part of the SQL ``WHERE`` clause, never a filter
applied to results afterwards, so neighbours from other cases cannot leak.

pgvector applies ``WHERE`` after the HNSW scan: with ``hnsw.ef_search = ef`` the
index yields at most ``ef`` candidates and the filter keeps about ``ef x s`` of
them (``s`` = the filter's share of the space). So per query we

1. estimate the filtered candidate count from cached per-case row counts of the
   space (:func:`space_stats`, one index-only ``GROUP BY`` per space every few
   minutes);
2. :func:`plan_search`: exact scan (btree-filtered, no HNSW) when the candidate
   set is small or so selective that no ``ef_search`` the index allows (1000)
   can deliver ``k`` rows; otherwise HNSW with ``ef`` sized from the selectivity
   (or pgvector >= 0.8 iterative scans, detected once per database);
3. verify completeness: if the index path returns fewer rows than it must,
   re-query with a larger ``ef`` and finally exactly.

``ORDER BY`` is only the distance expression (a tiebreaker column would stop the
index from being used); ties are ordered by id in Python. Results page with a
keyset cursor ``(distance, id)`` that stays stable while rows are added.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connections, transaction

from retrieval.db_router import search_reads
from retrieval.models import Case, EmbeddingSpace, Finding, SpaceState
from retrieval.services.embeddings import EF_SEARCH_RANGE, OPERATOR, has_exact_index

#: The largest ``hnsw.ef_search`` pgvector accepts.
EF_MAX = EF_SEARCH_RANGE[1]
#: ``ef`` must cover this many times the rows a filter is expected to keep (recall headroom).
EF_HEADROOM = 4.0
#: The same for spaces with the covering exact-path index, whose index path starts only above the exact
#: budget: at 1M x 128 face-like vectors, 20-25 % filters kept recall@10 0.973-0.980 at ef 400 and 0.987-0.993
#: at ef 700 (docs/benchmarks/vector_search.md).
EF_HEADROOM_COVERED = 12.0
#: Smallest ``ef`` used by default (``MMSEC_SEARCH_EF_MIN``); see docs/benchmarks/vector_search.md for recall.
EF_MIN = 100
#: How long per-case row counts of a space are reused.
STATS_TTL_S = 300.0
MAX_K = 1000


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
    path: str  # "exact", "hnsw(ef=...)", "hnsw-iterative(ef=...)", "... -> exact(fallback)", "empty"
    candidates: int  # estimated rows the filter admits (case filter only)
    next_cursor: str | None = None  # pass as ``cursor`` for the next page; None: no more rows


@dataclass(frozen=True)
class Plan:
    path: str  # "exact" | "hnsw" | "hnsw-iterative"
    ef: int = 0


def active_space(plugin: str, name: str) -> EmbeddingSpace | None:
    return EmbeddingSpace.objects.filter(plugin=plugin, name=name, state=SpaceState.ACTIVE).first()


def _similarity(distance_kind: str, d: float) -> float:
    if distance_kind == "cosine":
        return 1.0 - d
    if distance_kind == "ip":
        return -d
    return 1.0 / (1.0 + d)


# --------------------------------------------------------------------------- planning


def parse_version(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def supports_iterative_scan(pgvector_version: str | None) -> bool:
    """pgvector >= 0.8.0 can continue an HNSW scan until enough rows pass the filter."""
    return bool(pgvector_version) and parse_version(pgvector_version or "") >= (0, 8, 0)


def exact_budget(dim: int, exact_max_rows: int | None = None) -> int:
    """Rows an exact scan may cover: ``MMSEC_SEARCH_EXACT_MAX_ROWS`` at 128 dimensions, fewer for wider vectors."""
    base = settings.MMSEC_SEARCH_EXACT_MAX_ROWS if exact_max_rows is None else exact_max_rows
    return max(1, int(base * 128 / max(128, dim)))


def plan_search(*, candidates: int, space_rows: int, need: int, dim: int, iterative: bool,
                exact_max_rows: int | None = None, ef_min: int | None = None, covered: bool = False,
                exact_max_rows_covered: int | None = None) -> Plan:
    """Exact or HNSW (and which ``ef``) for a filter admitting ``candidates`` of ``space_rows`` rows.

    ``need`` is how many rows the index must yield after the filter (k + rows of earlier pages + 1); ``ef_min``
    is the space's own ef floor (None: ``MMSEC_SEARCH_EF_MIN``); ``covered``: the space has the covering
    exact-path index, whose scans are cheaper per row (budget ``MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED``).
    """
    if covered:
        exact_max_rows = (settings.MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED if exact_max_rows_covered is None
                          else exact_max_rows_covered)
    if candidates <= exact_budget(dim, exact_max_rows) or candidates <= need:
        return Plan("exact")
    share = min(1.0, candidates / max(1, space_rows))
    floor = min(EF_MAX, ef_min if ef_min is not None else getattr(settings, "MMSEC_SEARCH_EF_MIN", EF_MIN))
    headroom = EF_HEADROOM_COVERED if covered and share < 1.0 else EF_HEADROOM
    ef = max(floor, need, math.ceil(headroom * need / share))
    if iterative:
        return Plan("hnsw-iterative", min(ef, EF_MAX))
    if ef <= EF_MAX:
        return Plan("hnsw", ef)
    if EF_MAX * share >= need:
        return Plan("hnsw", EF_MAX)  # thin headroom: completeness is verified, with the exact scan behind it
    return Plan("exact")  # no ef the index allows keeps enough rows of so selective a filter


# --------------------------------------------------------------------------- database facts (cached)

_lock = threading.Lock()
_versions: dict[str, str | None] = {}
_stats: dict[tuple[str, int], tuple[float, int, dict[int, int]]] = {}


def pgvector_version(alias: str = "default") -> str | None:
    """``extversion`` of pgvector on ``alias``, read once per process and database."""
    with _lock:
        if alias in _versions:
            return _versions[alias]
    with connections[alias].cursor() as cur:
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cur.fetchone()
    with _lock:
        _versions[alias] = row[0] if row else None
        return _versions[alias]


def space_stats(space: EmbeddingSpace, alias: str = "default", *, refresh: bool = False) -> tuple[int, dict[int, int]]:
    """(rows in the space, rows per case), from an index-only scan, cached for ``STATS_TTL_S``."""
    key = (alias, int(space.pk))
    now = time.monotonic()
    with _lock:
        cached = _stats.get(key)
    if cached and not refresh and now - cached[0] < STATS_TTL_S:
        return cached[1], cached[2]
    with connections[alias].cursor() as cur:
        # index-only on (space_id, case_id): no "vector IS NOT NULL" (it would read the heap); rows of a space
        # without a vector are rare and only make the estimate a little high
        cur.execute(f'SELECT case_id, count(*) FROM "{Finding._meta.db_table}" '
                    "WHERE space_id = %s GROUP BY case_id", [space.pk])
        per_case = {int(c): int(n) for c, n in cur.fetchall()}
    total = sum(per_case.values())
    with _lock:
        _stats[key] = (now, total, per_case)
    return total, per_case


def forget_space_stats(space_id: int | None = None) -> None:
    """Drop cached counts (after bulk loads, in tests)."""
    with _lock:
        for key in [k for k in _stats if space_id is None or k[1] == space_id]:
            del _stats[key]


# --------------------------------------------------------------------------- cursors


def encode_cursor(distance: float, finding_id: int, seen: int) -> str:
    raw = json.dumps([repr(float(distance)), int(finding_id), int(seen)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int, int]:
    """(distance, id, rows already returned) of the last hit of the previous page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        d, fid, seen = json.loads(raw)
        value = (float(d), int(fid), int(seen))
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    if not math.isfinite(value[0]) or value[2] < 0:
        raise ValueError("invalid cursor")
    return value


# --------------------------------------------------------------------------- search


@dataclass
class _Query:
    """The SQL pieces of one search."""

    where: list[str]
    params: list[Any]
    join: str
    dim: int
    op: str
    qtext: str
    covered: bool = False  # the space has the covering exact-path index

    def sql(self, *, indexed: bool, limit: int, extra_where: str = "") -> str:
        # The HNSW index is on (vector::vector(dim)); the uncast expression cannot use it, so the exact path
        # is planned on the btree indexes alone without disabling index scans. Its inner query reads only
        # id, case_id, space_id and vector, so the space's covering btree can answer it without the heap
        # (embeddings.exact_index_sql); the other columns are fetched for the k + 1 rows it keeps.
        table = f'"{Finding._meta.db_table}"'
        col = f"f.vector::vector({self.dim})" if indexed else "f.vector"
        dist = f"({col} {self.op} %s::vector({self.dim}))"
        where = " AND ".join(self.where + ([extra_where.format(dist=dist)] if extra_where else []))
        if indexed:
            return (f"SELECT f.id, f.media_id, f.case_id, {dist} AS distance, f.label, f.start_s, f.end_s, f.box "
                    f"FROM {table} f {self.join} WHERE {where} ORDER BY distance LIMIT {int(limit)}")
        return (f"SELECT r.id, r.media_id, r.case_id, s.distance, r.label, r.start_s, r.end_s, r.box FROM ("
                f"SELECT f.id, {dist} AS distance FROM {table} f {self.join} WHERE {where} "
                f"ORDER BY distance LIMIT {int(limit)}) s JOIN {table} r ON r.id = s.id ORDER BY s.distance")

    def run(self, cur: Any, *, indexed: bool, limit: int, after: tuple[float, int] | None,
            tie: float | None = None) -> list[tuple[Any, ...]]:
        extra, params = "", []
        if tie is not None:
            extra, params = "{dist} = %s", [self.qtext, tie]
            if after is not None and after[0] == tie:  # a tie group longer than a page: skip its earlier rows
                extra, params = extra + " AND f.id > %s", [*params, after[1]]
        elif after is not None:
            extra, params = "({dist} > %s OR ({dist} = %s AND f.id > %s))", [self.qtext, after[0], self.qtext,
                                                                                after[0], after[1]]
        cur.execute(self.sql(indexed=indexed, limit=limit, extra_where=extra),
                    [self.qtext, *self.params, *params])
        return cur.fetchall()


def _build_query(space: EmbeddingSpace, q: np.ndarray, case_ids: list[int], filters: SearchFilters) -> _Query:
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
    qtext = "[" + ",".join(f"{x:.8g}" for x in q.tolist()) + "]"
    return _Query(where, params, join, int(space.dim), OPERATOR[space.distance], qtext, has_exact_index(space))


def _check_vector(space: EmbeddingSpace, vector: np.ndarray | list[float]) -> np.ndarray:
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    if q.shape != (space.dim,):
        raise ValueError(f"query vector has {q.size} dimensions, space {space.name} has {space.dim}")
    if not np.all(np.isfinite(q)):
        raise ValueError("query vector contains NaN or infinity")
    return q


def search_similar(
    user: Any, space: EmbeddingSpace, vector: np.ndarray | list[float], k: int = 10,
    filters: SearchFilters | None = None, cursor: str | None = None,
) -> SearchResult:
    """The ``k`` nearest findings in ``space`` among cases visible to ``user`` (after ``cursor``, if given)."""
    filters = filters or SearchFilters()
    q = _check_vector(space, vector)
    k = max(1, min(int(k), MAX_K))
    after = None
    seen = 0
    if cursor:
        d, fid, seen = decode_cursor(cursor)
        after = (d, fid)
    with search_reads() as alias:
        visible = set(Case.objects.using(alias).visible_to(user).values_list("id", flat=True))
        case_ids = sorted(visible if filters.case_ids is None else visible.intersection(filters.case_ids))
        if not case_ids:
            return SearchResult([], "empty", 0)
        space_rows, per_case = space_stats(space, alias)
        candidates = sum(per_case.get(c, 0) for c in case_ids)
        if filters.media_ids is not None:  # a named gallery (e.g. enrolled prints): count it exactly, it is small
            candidates = Finding.objects.using(alias).filter(
                space=space, case_id__in=case_ids, media_id__in=list(filters.media_ids), vector__isnull=False,
            ).count()
        need = k + seen + 1
        query = _build_query(space, q, case_ids, filters)
        plan = plan_search(candidates=candidates, space_rows=space_rows, need=need, dim=space.dim,
                           iterative=supports_iterative_scan(pgvector_version(alias)), ef_min=space.ef_search_min,
                           covered=query.covered)
        rows, path = _execute(alias, query, plan, k, after)
    hits = [
        Hit(finding_id=r[0], media_id=r[1], case_id=r[2], distance=float(r[3]),
            similarity=_similarity(space.distance, float(r[3])), label=r[4], start_s=r[5], end_s=r[6], box=r[7])
        for r in rows[:k]
    ]
    next_cursor = encode_cursor(hits[-1].distance, hits[-1].finding_id, seen + len(hits)) if len(rows) > k else None
    return SearchResult(hits, path, candidates, next_cursor)


def _prefer_hnsw(cur: Any, on: bool) -> None:
    value = "off" if on else "on"
    for name in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
        cur.execute(f"SET LOCAL {name} = {value}")


def _serial_exact_scan(cur: Any, query: _Query) -> None:
    """Keep the covering index's scan in one process.

    PostgreSQL 16 runs a parallel btree scan with ``case_id = ANY(...)`` one array element at a time across
    its workers; measured at a 10 % filter of 1M face vectors (90,000 rows, 2 cores): 31-41 ms in parallel
    against 21 ms serial, and the planner picked the parallel plan for about half of the filters.
    """
    if query.covered:
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")


def _execute(alias: str, query: _Query, plan: Plan, k: int,
             after: tuple[float, int] | None) -> tuple[list[tuple[Any, ...]], str]:
    """Run ``plan``; re-query (larger ef, then exact) until k+1 rows or the filtered set is exhausted."""
    limit = k + 1
    with transaction.atomic(using=alias), connections[alias].cursor() as cur:
        _serial_exact_scan(cur, query)
        rows: list[tuple[Any, ...]] = []
        path = "exact"
        if plan.path != "exact":
            if plan.path == "hnsw-iterative":
                cur.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            # Our estimate chose the index; keep the planner from trading it for a btree scan + sort.
            _prefer_hnsw(cur, True)
            ef = plan.ef
            steps = []
            while True:
                cur.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
                rows = query.run(cur, indexed=True, limit=limit, after=after)
                steps.append(f"{plan.path}(ef={ef})")
                if len(rows) >= limit or ef >= EF_MAX:
                    break
                ef = min(EF_MAX, ef * 4)
            path = " -> ".join(steps)
            _prefer_hnsw(cur, False)
            if len(rows) < limit:
                # The index ran out of filtered candidates; only an exact scan can tell the set is exhausted.
                rows = query.run(cur, indexed=False, limit=limit, after=after)
                path += " -> exact(fallback)"
        else:
            rows = query.run(cur, indexed=False, limit=limit, after=after)
        rows.sort(key=lambda r: (r[3], r[0]))
        if len(rows) > k and rows[k][3] == rows[k - 1][3]:
            # Rows tied at the page boundary: fetch all of them so the (distance, id) order is total.
            tied = query.run(cur, indexed=False, limit=MAX_K * 10, after=after, tie=rows[k - 1][3])
            by_id = {r[0]: r for r in rows}
            by_id.update({r[0]: r for r in tied})
            rows = sorted(by_id.values(), key=lambda r: (r[3], r[0]))[:limit]
    return rows, path
