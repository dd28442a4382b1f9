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
