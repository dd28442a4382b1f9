"""Search planning without a database: exact vs HNSW, ef sizing, pgvector iterative-scan detection, cursors."""

from __future__ import annotations

import math

import pytest

from retrieval.services import search


@pytest.mark.parametrize(("version", "expected"), [
    ("0.6.2", False), ("0.7.4", False), ("0.8.0", True), ("0.8.1", True), ("0.10.0", True), ("1.0", True),
    (None, False), ("", False),
])
def test_iterative_scans_are_used_from_pgvector_0_8(version: str | None, expected: bool) -> None:
    assert search.supports_iterative_scan(version) is expected


def _plan(candidates: int, space_rows: int = 1_000_000, need: int = 11, dim: int = 128, iterative: bool = False):
    return search.plan_search(candidates=candidates, space_rows=space_rows, need=need, dim=dim, iterative=iterative,
                              exact_max_rows=20_000)


def test_small_candidate_sets_are_searched_exactly() -> None:
    assert _plan(10_000).path == "exact"  # 1 % of 1M
    assert _plan(1_000).path == "exact"  # 0.1 %
    assert _plan(5, space_rows=5).path == "exact"


def test_the_exact_budget_shrinks_with_the_dimension() -> None:
    assert _plan(10_000, space_rows=200_000, dim=1024).path == "hnsw"  # 5 %: 10,000 x 1024-d is too many
    assert _plan(2_000, space_rows=200_000, dim=1024).path == "exact"


def test_ef_grows_as_the_filter_gets_more_selective() -> None:
    unfiltered, half, tenth = _plan(1_000_000), _plan(500_000), _plan(100_000)
    assert (unfiltered.path, half.path, tenth.path) == ("hnsw", "hnsw", "hnsw")
    assert unfiltered.ef == search.EF_MIN
    assert unfiltered.ef <= half.ef < tenth.ef <= search.EF_MAX
    assert tenth.ef * 0.1 >= 4 * 11  # expected rows left after the filter cover k+1 four times


def test_deeper_pages_need_a_larger_ef() -> None:
    assert _plan(500_000, need=101).ef > _plan(500_000, need=11).ef


def test_a_filter_too_selective_for_any_ef_goes_exact_without_iterative_scans() -> None:
    assert _plan(50_000, space_rows=10_000_000).path == "exact"  # 0.5 %: ef 1000 keeps ~5 rows
    iterative = _plan(50_000, space_rows=10_000_000, iterative=True)
    assert iterative.path == "hnsw-iterative" and iterative.ef == search.EF_MAX


def test_a_one_percent_filter_takes_the_index_when_ef_1000_can_deliver() -> None:
    plan = _plan(100_000, space_rows=10_000_000, need=6)  # 1 % of 10M, k=5: ef 1000 keeps ~10 rows
    assert (plan.path, plan.ef) == ("hnsw", search.EF_MAX)


def test_cursors_round_trip_exactly_and_reject_garbage() -> None:
    d = 0.123456789012345678
    assert search.decode_cursor(search.encode_cursor(d, 42, 10)) == (d, 42, 10)
    for bad in ("", "not-a-cursor", "W10", search.encode_cursor(0.1, 1, 1)[:-3] + "???"):
        with pytest.raises(ValueError):
            search.decode_cursor(bad)


def test_a_space_can_raise_the_ef_floor_but_not_beyond_the_limit() -> None:
    def plan(candidates: int, ef_min: int | None):
        return search.plan_search(candidates=candidates, space_rows=1_000_000, need=11, dim=128, iterative=False,
                                  exact_max_rows=20_000, ef_min=ef_min)

    assert plan(1_000_000, None).ef == search.EF_MIN  # no per-space floor: the setting
    assert plan(1_000_000, 400).ef == 400
    assert plan(100_000, 400).ef == 440  # the filter's own need is above the floor
    assert plan(1_000_000, 5_000).ef == search.EF_MAX


def test_a_space_with_a_covering_index_searches_larger_filtered_sets_exactly() -> None:
    def plan(candidates: int, dim: int, covered: bool):
        return search.plan_search(candidates=candidates, space_rows=1_000_000, need=11, dim=dim, iterative=False,
                                  exact_max_rows=20_000, exact_max_rows_covered=150_000, covered=covered).path

    assert plan(100_000, 128, covered=True) == "exact"  # a 10 % filter of 1M face vectors
    assert plan(100_000, 128, covered=False) == "hnsw"
    assert plan(500_000, 128, covered=True) == "hnsw"  # half the space: the index is faster
    assert plan(100_000, 384, covered=True) == "hnsw"  # the budget shrinks with the dimension
    assert plan(30_000, 384, covered=True) == "exact"


def test_above_the_covered_exact_budget_a_filter_gets_more_ef_headroom() -> None:
    def plan(candidates: int, covered: bool):
        return search.plan_search(candidates=candidates, space_rows=1_000_000, need=11, dim=128, iterative=False,
                                  exact_max_rows=20_000, exact_max_rows_covered=150_000, covered=covered, ef_min=400)

    covered, plain = plan(200_000, True), plan(200_000, False)  # a 20 % filter
    assert (covered.path, plain.path) == ("hnsw", "hnsw")
    assert covered.ef == math.ceil(search.EF_HEADROOM_COVERED * 11 / 0.2) > plain.ef == 400
    assert plan(1_000_000, True).ef == plan(1_000_000, False).ef == 400  # no filter: the floor decides
    assert plan(500_000, True).ef == 400  # half the space: 12 x 11 / 0.5 = 264 is below the floor


def test_by_default_a_wide_space_searches_up_to_10000_rows_exactly() -> None:
    def plan(candidates: int):
        return search.plan_search(candidates=candidates, space_rows=200_000, need=11, dim=1024, iterative=False).path

    assert plan(10_000) == "exact"  # a 5 % filter of 200k audio-event vectors
    assert plan(12_000) == "hnsw"
