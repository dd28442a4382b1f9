"""Search reads through the read-replica alias (here a mirror of the test database)."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connections

from retrieval.db_router import search_alias, search_reads
from retrieval.models import Case, MediaItem
from retrieval.services import embeddings, search

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def _queries_on(alias: str) -> list[str]:
    return [q["sql"] for q in connections[alias].queries]


def test_search_reads_go_to_the_replica_and_keep_visibility(personas, settings) -> None:
    settings.MMSEC_SEARCH_REPLICA_ALIAS = "replica"
    settings.DEBUG = True  # record queries per connection
    space = embeddings.get_or_create_space("test", "replica", "v1", 8)
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(20, 8)).astype(np.float32)
    for case in (personas["case"], personas["other_case"]):
        media = MediaItem.objects.create(case=case, original_name="m", sha256=f"{case.pk:064x}", size=1,
                                         kind="image", status="ready")
        embeddings.store_findings(media, "test", "v1", [
            embeddings.NewFinding(key=str(i), space=space, vector=v) for i, v in enumerate(vectors)])
    search.forget_space_stats()
    for alias in ("default", "replica"):
        connections[alias].queries_log.clear()
    result = search.search_similar(personas["alice"], space, vectors[0], k=50)
    assert len(result.hits) == 20 and {h.case_id for h in result.hits} == {personas["case"].pk}
    replica_sql = "\n".join(_queries_on("replica"))
    assert "retrieval_finding" in replica_sql and "retrieval_casemembership" in replica_sql
    assert not any("retrieval_finding" in q for q in _queries_on("default"))


def test_without_a_replica_alias_everything_stays_on_the_primary(settings) -> None:
    settings.MMSEC_SEARCH_REPLICA_ALIAS = ""
    with search_reads() as alias:
        assert alias == "default" == search_alias()
    settings.MMSEC_SEARCH_REPLICA_ALIAS = "replica"
    with search_reads() as alias:
        assert alias == "replica"
        assert Case.objects.all().db == "replica"  # the router sends ORM reads there too
    assert search_alias() == "default" and Case.objects.all().db == "default"  # only inside the block
