"""The findings table partitioned by space (services.partitioning, ``manage.py partition_findings``).

Converted inside the test's transaction on the real test database (PostgreSQL DDL is transactional: the
conversion is rolled back with the test). Checks that search answers the same, the planner prunes to a space's
partition, upserts stay idempotent (also without a space), ids keep increasing, ORM deletions still cascade /
set null where the database foreign keys had to go, and new spaces and dropped spaces work.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from retrieval.models import Alert, Finding, MediaItem, Watchlist
from retrieval.services import embeddings, partitioning, search
from tests.integration.test_search import _media
from tests.integration.test_search import _unit as _unit_vectors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _layout_cache() -> Iterator[None]:
    partitioning.forget()
    search.forget_space_stats()
    yield
    partitioning.forget()  # the conversion is rolled back with the test
    search.forget_space_stats()


def _store(media: MediaItem, space, vectors: np.ndarray, extra: list | None = None) -> None:
    embeddings.store_findings(media, "test", "v1", [
        embeddings.NewFinding(key=str(i), space=space, vector=v) for i, v in enumerate(vectors)] + (extra or []))


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    return _unit_vectors(rng, n, dim=8)


def _count(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{table}"')
        return int(cur.fetchone()[0])


def test_a_partitioned_findings_table_answers_upserts_and_deletes_like_the_plain_one(personas) -> None:
    rng = np.random.default_rng(21)
    case, alice = personas["case"], personas["alice"]
    space_a = embeddings.get_or_create_space("test", "part-a", "v1", 8)
    space_b = embeddings.get_or_create_space("test", "part-b", "v1", 8)
    media_a, media_b = _media(case, "a.jpg"), _media(case, "b.jpg")
    vectors_a = _unit(rng, 300)
    note = embeddings.NewFinding(key="note", label="no vector")  # a finding without a space
    _store(media_a, space_a, vectors_a, [note])
    _store(media_b, space_b, _unit(rng, 200))
    watchlist = Watchlist.objects.create(case=case, name="w", kind="person")
    doomed = Finding.objects.get(media=media_a, key="299")
    alert = Alert.objects.create(watchlist=watchlist, entry_label="e", case=case, media=media_a, finding=doomed,
                                 plugin="test", dedup_key="k", score=1.0, summary="s")
    queries = _unit(rng, 5)
    before = {s.pk: [[h.finding_id for h in search.search_similar(alice, s, q, k=10).hits] for q in queries]
              for s in (space_a, space_b)}
    ids_a = set(Finding.objects.filter(space=space_a).values_list("id", flat=True))
    highest = Finding.objects.order_by("-id").values_list("id", flat=True).first()

    with transaction.atomic():  # the command runs its own atomic blocks: savepoints inside the test's transaction
        call_command("partition_findings", "--space", str(space_a.pk), stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert partitioning.is_partitioned()
    names = [name for name, _ in partitioning.partitions()]
    assert names == sorted([partitioning.DEFAULT_PARTITION, partitioning.partition_name(space_a.pk)])
    assert _count(partitioning.partition_name(space_a.pk)) == 300
    search.forget_space_stats()
    after = {s.pk: [[h.finding_id for h in search.search_similar(alice, s, q, k=10).hits] for q in queries]
             for s in (space_a, space_b)}
    assert after == before
    # the planner reads only space A's partition for space A
    query = search._build_query(space_a, queries[0], [case.pk], search.SearchFilters())
    with transaction.atomic(), connection.cursor() as cur:
        search._prefer_hnsw(cur, True)
        cur.execute("EXPLAIN " + query.sql(indexed=True, limit=11), [query.qtext, *query.params])
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert partitioning.partition_name(space_a.pk) in plan and partitioning.DEFAULT_PARTITION not in plan

    # re-running the job: the same rows (ids kept, nothing doubled), also the one without a space; a finding the
    # new run no longer produces is deleted and the alert that pointed at it keeps going without it
    _store(media_a, space_a, vectors_a[:299] * -1, [note])
    assert set(Finding.objects.filter(space=space_a).values_list("id", flat=True)) == ids_a - {doomed.pk}
    assert Finding.objects.filter(media=media_a, key="note").count() == 1
    alert.refresh_from_db()
    assert alert.finding_id is None
    # new rows get new ids and land in their space's partition
    _store(_media(case, "a2.jpg"), space_a, _unit(rng, 7))
    assert _count(partitioning.partition_name(space_a.pk)) == 299 + 7
    assert Finding.objects.order_by("-id").values_list("id", flat=True).first() > highest
    # a space created afterwards gets its indexes on the parent, and search on it works
    space_c = embeddings.get_or_create_space("test", "part-c", "v1", 8)
    _store(_media(case, "c.jpg"), space_c, _unit(rng, 20))
    assert embeddings.index_info(space_c)["valid"] and embeddings.exact_index_bytes(space_c) is not None
    assert len(search.search_similar(alice, space_c, queries[0], k=5).hits) == 5
    # deleting media through the ORM still removes its findings; a retired space can be dropped
    media_b.delete()
    assert not Finding.objects.filter(space=space_b).exists()
    embeddings.activate_space(embeddings.get_or_create_space("test", "part-b", "v2", 8))
    embeddings.drop_space(type(space_b).objects.get(pk=space_b.pk))
    assert not type(space_b).objects.filter(pk=space_b.pk).exists()


def test_converting_twice_or_moving_without_converting_is_refused() -> None:
    with pytest.raises(ValueError, match="not partitioned"):
        partitioning.move_space(1)
    with transaction.atomic():
        partitioning.partition_findings()
        with pytest.raises(ValueError, match="partitioned already"):
            partitioning.partition_findings()
