"""search_similar with real vectors in pgvector: correct neighbours, never across case boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.models import MediaItem
from retrieval.services import embeddings, search

pytestmark = pytest.mark.django_db


def _media(case, name: str, kind: str = "image") -> MediaItem:
    return MediaItem.objects.create(case=case, original_name=name, sha256=f"{hash(name) & (2**64 - 1):064x}",
                                    size=1, kind=kind, status="ready")


@pytest.fixture
def space():
    return embeddings.get_or_create_space("test", "vec", "v1", 16)


def _store(media: MediaItem, space, vectors: np.ndarray) -> None:
    embeddings.store_findings(media, "test", "v1", [
        embeddings.NewFinding(key=f"0:{i}", space=space, vector=v, label=f"l{i}") for i, v in enumerate(vectors)
    ])


def _unit(rng: np.random.Generator, n: int, dim: int = 16) -> np.ndarray:
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_it_returns_exact_nearest_neighbours(personas, space) -> None:
    rng = np.random.default_rng(0)
    vectors = _unit(rng, 200)
    media = _media(personas["case"], "m1")
    _store(media, space, vectors)
    query = vectors[17] + 0.01 * rng.normal(size=16).astype(np.float32)
    result = search.search_similar(personas["alice"], space, query, k=5)
    expected = np.argsort(1 - vectors @ (query / np.linalg.norm(query)))[:5]
    assert [h.label for h in result.hits] == [f"l{i}" for i in expected]
    assert result.hits[0].similarity > 0.99


def test_it_never_returns_neighbours_from_invisible_cases(personas, space) -> None:
    rng = np.random.default_rng(1)
    vectors = _unit(rng, 50)
    _store(_media(personas["case"], "mine"), space, vectors)
    _store(_media(personas["other_case"], "theirs"), space, vectors)  # identical vectors elsewhere
    hits = search.search_similar(personas["alice"], space, vectors[3], k=100).hits
    assert len(hits) == 50
    assert {h.case_id for h in hits} == {personas["case"].pk}
    assert search.search_similar(personas["staff"], space, vectors[3], k=10).hits == []


def test_it_applies_media_kind_filters_inside_the_query(personas, space) -> None:
    rng = np.random.default_rng(2)
    _store(_media(personas["case"], "img", "image"), space, _unit(rng, 30))
    _store(_media(personas["case"], "vid", "video"), space, _unit(rng, 3))
    result = search.search_similar(personas["alice"], space, _unit(rng, 1)[0], k=10,
                                   filters=search.SearchFilters(media_kinds=["video"]))
    assert len(result.hits) == 3


def test_rerunning_a_job_writes_no_duplicates(personas, space) -> None:
    media = _media(personas["case"], "m")
    vectors = _unit(np.random.default_rng(3), 4)
    _store(media, space, vectors)
    _store(media, space, vectors)
    assert media.findings.count() == 4


def test_it_rejects_wrong_dimensions(personas, space) -> None:
    with pytest.raises(ValueError, match="dimensions"):
        search.search_similar(personas["alice"], space, np.ones(8), k=3)


def test_the_space_gets_a_partial_hnsw_index(space) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [embeddings.index_name(space)])
        definition = cur.fetchone()[0]
    assert "hnsw" in definition and f"space_id = {space.pk}" in definition and "vector(16)" in definition


def _index_defs(pattern: str) -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s", [pattern])
        return dict(cur.fetchall())


def test_a_narrow_space_gets_a_covering_index_for_the_exact_path_and_a_wide_one_does_not(space) -> None:
    wide = embeddings.get_or_create_space("test", "wide", "v1", embeddings.EXACT_INDEX_MAX_DIM + 1)
    definition = _index_defs(embeddings.exact_index_name(space.pk))[embeddings.exact_index_name(space.pk)]
    assert "btree (case_id) INCLUDE (id, vector)" in definition
    assert f"space_id = {space.pk}" in definition and "vector IS NOT NULL" in definition
    assert embeddings.has_exact_index(space) and not embeddings.has_exact_index(wide)
    assert _index_defs(embeddings.exact_index_name(wide.pk)) == {}
    embeddings.activate_space(wide)  # only a retired space can be dropped
    narrow_retired = embeddings.get_or_create_space("test", "vec", "v2", 16)
    embeddings.activate_space(narrow_retired)
    embeddings.drop_space(type(space).objects.get(pk=space.pk))
    assert _index_defs(f"finding_%_space_{space.pk}") == {}


def test_the_exact_path_can_answer_from_the_covering_index_alone(personas, space) -> None:
    from django.db import connection, transaction

    rng = np.random.default_rng(17)
    _store_many(personas["case"], space, _unit(rng, 300))
    query = search._build_query(space, _unit(rng, 1)[0], [personas["case"].pk], search.SearchFilters())
    with transaction.atomic(), connection.cursor() as cur:
        # the planner may prefer other plans on 300 rows; what matters is that this one is possible at all:
        # with plain index and heap scans penalised, it takes an index-only scan, which exists only if the
        # inner query reads no column outside the covering index
        for name in ("enable_seqscan", "enable_bitmapscan", "enable_indexscan"):
            cur.execute(f"SET LOCAL {name} = off")
        cur.execute("EXPLAIN " + query.sql(indexed=False, limit=11), [query.qtext, *query.params])
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert f"Index Only Scan using {embeddings.exact_index_name(space.pk)}" in plan


def test_the_covering_index_is_scanned_in_one_process(personas, space) -> None:
    from django.db import connection, transaction

    rng = np.random.default_rng(18)
    _store_many(personas["case"], space, _unit(rng, 300))
    query = search._build_query(space, _unit(rng, 1)[0], [personas["case"].pk], search.SearchFilters())
    assert query.covered
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("ANALYZE retrieval_finding")
        # make a parallel plan look free, as it does to the planner for large filters
        for name in ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_index_scan_size",
                     "min_parallel_table_scan_size"):
            cur.execute(f"SET LOCAL {name} = 0")
        cur.execute("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN " + query.sql(indexed=False, limit=11)
        cur.execute(explain, [query.qtext, *query.params])
        unrestricted = "\n".join(r[0] for r in cur.fetchall())
        search._serial_exact_scan(cur, query)
        cur.execute(explain, [query.qtext, *query.params])
        serial = "\n".join(r[0] for r in cur.fetchall())
    assert "Parallel" in unrestricted  # the kind of plan the setting exists to avoid
    assert "Parallel" not in serial and "Gather" not in serial


# --------------------------------------------------------------------------- planning, completeness, cursors


def _truth(vectors: np.ndarray, ids: list[int], query: np.ndarray, k: int) -> list[int]:
    d = 1 - vectors @ (query / np.linalg.norm(query))
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (round(float(d[i]), 6), ids[i]))[:k]]


def _store_many(case, space, vectors: np.ndarray, per_media: int = 500, kind: str = "image",
                tag: str = "") -> list[int]:
    """Store ``vectors`` in ``case`` and return their finding ids in the same order."""
    from retrieval.models import Finding

    ids = []
    for start in range(0, len(vectors), per_media):
        media = _media(case, f"{tag}{case.pk}-{kind}-{start}", kind)
        embeddings.store_findings(media, "test", "v1", [
            embeddings.NewFinding(key=f"{i}", space=space, vector=v)
            for i, v in enumerate(vectors[start:start + per_media])
        ])
        by_key = dict(Finding.objects.filter(media=media).values_list("key", "id"))
        ids += [by_key[str(i)] for i in range(len(vectors[start:start + per_media]))]
    return ids


def test_a_one_percent_case_filter_in_a_large_space_takes_hnsw_and_returns_k_rows(personas, space, settings) -> None:
    from retrieval.services import cases

    # make 4,000 rows a "large" space for the planner
    settings.MMSEC_SEARCH_EXACT_MAX_ROWS = settings.MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED = 10
    rng = np.random.default_rng(11)
    small = cases.create_case(actor=personas["alice"], title="Small case")
    few = _unit(rng, 40)
    _store_many(personas["case"], space, _unit(rng, 2000))
    # the invisible case holds exact copies of the small case's vectors: the nearest rows of all
    _store_many(personas["other_case"], space, np.concatenate([few, _unit(rng, 1920)]))
    small_ids = _store_many(small, space, few)
    search.forget_space_stats()
    query = few[7] + 0.05 * rng.normal(size=16).astype(np.float32)
    filters = search.SearchFilters(case_ids=[small.pk, personas["other_case"].pk])  # other_case: not alice's
    result = search.search_similar(personas["alice"], space, query, k=5, filters=filters)
    assert result.candidates == 40  # 1 % of the space's 4,000 rows
    assert result.path.startswith("hnsw(ef=1000)")
    assert len(result.hits) == 5
    assert {h.case_id for h in result.hits} == {small.pk}
    truth = _truth(few, small_ids, query, 5)
    assert len(set(truth) & {h.finding_id for h in result.hits}) >= 4
    assert [h.distance for h in result.hits] == sorted(h.distance for h in result.hits)
    charlie = search.search_similar(personas["charlie"], space, query, k=5, filters=filters)
    assert {h.case_id for h in charlie.hits} == {personas["other_case"].pk}


def test_an_index_shortfall_is_requeried_until_the_filtered_set_is_exhausted(personas, space, settings) -> None:
    settings.MMSEC_SEARCH_EXACT_MAX_ROWS = settings.MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED = 10
    rng = np.random.default_rng(12)
    _store_many(personas["case"], space, _unit(rng, 600))
    video_ids = _store_many(personas["case"], space, _unit(rng, 3), kind="video")
    search.forget_space_stats()
    result = search.search_similar(personas["alice"], space, _unit(rng, 1)[0], k=10,
                                   filters=search.SearchFilters(media_kinds=["video"]))
    assert result.path.startswith("hnsw(ef=100) -> ") and result.path.endswith("exact(fallback)")
    assert sorted(h.finding_id for h in result.hits) == sorted(video_ids)
    assert result.next_cursor is None


@pytest.mark.parametrize("exact_max_rows", [20_000, 10])
def test_cursor_pages_are_complete_ordered_and_stable_with_ties(personas, space, settings,
                                                              exact_max_rows: int) -> None:
    settings.MMSEC_SEARCH_EXACT_MAX_ROWS = settings.MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED = exact_max_rows
    rng = np.random.default_rng(13)
    base = _unit(rng, 30)
    vectors = np.concatenate([base, base, base])  # every distance three times: ties at page boundaries
    ids = _store_many(personas["case"], space, vectors, per_media=45)
    search.forget_space_stats()
    query = _unit(rng, 1)[0]
    pages, cursor = [], None
    while True:
        result = search.search_similar(personas["alice"], space, query, k=7, cursor=cursor)
        pages.append([h.finding_id for h in result.hits])
        cursor = result.next_cursor
        if cursor is None:
            break
        # rows stored after the first page do not shift later pages
        if len(pages) == 1:
            _store_many(personas["other_case"], space, base[:3], tag="late")
    got = [fid for page in pages for fid in page]
    assert len(got) == len(set(got)) == 90 and set(got) == set(ids)
    settings.MMSEC_SEARCH_EXACT_MAX_ROWS = settings.MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED = 20_000
    one_call = search.search_similar(personas["alice"], space, query, k=90)
    assert one_call.path == "exact" and got == [h.finding_id for h in one_call.hits]
    distances = [(h.distance, h.finding_id) for h in one_call.hits]
    assert distances == sorted(distances)
    assert all(len(p) == 7 for p in pages[:-1])


def test_the_index_path_orders_by_distance_only_and_uses_the_hnsw_index(personas, space) -> None:
    from django.db import connection, transaction

    rng = np.random.default_rng(14)
    _store_many(personas["case"], space, _unit(rng, 300))
    query = search._build_query(space, _unit(rng, 1)[0], [personas["case"].pk], search.SearchFilters())
    with transaction.atomic(), connection.cursor() as cur:
        search._prefer_hnsw(cur, True)
        cur.execute("EXPLAIN " + query.sql(indexed=True, limit=11), [query.qtext, *query.params])
        indexed = "\n".join(r[0] for r in cur.fetchall())
        search._prefer_hnsw(cur, False)
        cur.execute("EXPLAIN " + query.sql(indexed=False, limit=11), [query.qtext, *query.params])
        exact = "\n".join(r[0] for r in cur.fetchall())
    assert f"Index Scan using {embeddings.index_name(space)}" in indexed and "Sort" not in indexed
    assert embeddings.index_name(space) not in exact
    assert query.sql(indexed=True, limit=11).rstrip().endswith("ORDER BY distance LIMIT 11")


def test_pgvector_version_is_detected_from_the_database(db) -> None:
    version = search.pgvector_version()
    assert version and search.parse_version(version) >= (0, 5, 0)


def test_the_search_api_pages_with_next_cursor(api, personas, space) -> None:
    rng = np.random.default_rng(15)
    ids = _store_many(personas["case"], space, _unit(rng, 25))
    body = {"plugin": "test", "space": "vec", "vector": _unit(rng, 1)[0].tolist(), "k": 10}
    got, cursor = [], None
    for _ in range(3):
        response = api("victor").post("/api/v1/search/similar/", {**body, **({"cursor": cursor} if cursor else {})},
                                      format="json")
        assert response.status_code == 200
        got += [h["finding_id"] for h in response.json()["hits"]]
        cursor = response.json()["next_cursor"]
    assert cursor is None and sorted(got) == sorted(ids)
    bad = api("victor").post("/api/v1/search/similar/", {**body, "cursor": "garbage"}, format="json")
    assert bad.status_code == 400 and "cursor" in bad.json()


def test_a_tie_group_longer_than_a_page_is_paged_without_repeats(personas, space) -> None:
    same = np.repeat(_unit(np.random.default_rng(16), 1), 20, axis=0)  # 20 rows at one distance
    ids = _store_many(personas["case"], space, same, per_media=20)
    search.forget_space_stats()
    got, cursor = [], None
    for _ in range(3):
        result = search.search_similar(personas["alice"], space, same[0], k=7, cursor=cursor)
        got += [h.finding_id for h in result.hits]
        cursor = result.next_cursor
    assert cursor is None and got == sorted(ids)
