"""Run by ``tests/integration/test_external_pgvector.py`` in a process whose ``DATABASE_URL`` points at the PGlite
server (``server.mjs``: PostgreSQL with pgvector >= 0.8), after ``manage.py migrate`` there.

Stores real findings through the platform's services and searches them with ``search_similar``, the way a
deployment on an external PostgreSQL with a newer pgvector runs; prints one JSON line for the test to check.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import django
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mmsec_site.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402

from retrieval.models import Finding, MediaItem  # noqa: E402
from retrieval.services import cases, embeddings, search  # noqa: E402


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def store(case, space, vectors: np.ndarray, tag: str) -> list[int]:
    ids = []
    for start in range(0, len(vectors), 500):
        media = MediaItem.objects.create(case=case, original_name=f"{tag}-{start}.jpg", size=1, kind="image",
                                         sha256=f"{abs(hash((tag, start))):064x}"[:64], status="ready")
        part = vectors[start:start + 500]
        embeddings.store_findings(media, "test", "v1", [
            embeddings.NewFinding(key=str(i), space=space, vector=v) for i, v in enumerate(part)])
        by_key = dict(Finding.objects.filter(media=media).values_list("key", "id"))
        ids += [by_key[str(i)] for i in range(len(part))]
    return ids


def main() -> None:
    rng = np.random.default_rng(5)
    users = get_user_model().objects
    alice, charlie = users.create_user("alice", password="x"), users.create_user("charlie", password="x")
    big, small = cases.create_case(actor=alice, title="big"), cases.create_case(actor=alice, title="small")
    other = cases.create_case(actor=charlie, title="other")
    space = embeddings.get_or_create_space("test", "vec", "v1", 16)
    store(big, space, unit(rng, 3000), "big")
    few = unit(rng, 40)
    small_ids = store(small, space, few, "small")
    store(other, space, few, "other")  # exact copies in a case alice may not see: the nearest rows of all
    # a 1 % filter in a "large" space: pgvector 0.6 would need the exact scan, 0.8 keeps the index
    settings.MMSEC_SEARCH_EXACT_MAX_ROWS = settings.MMSEC_SEARCH_EXACT_MAX_ROWS_COVERED = 10
    search.forget_space_stats()
    query = few[7] + 0.05 * rng.normal(size=16).astype(np.float32)
    filtered = search.search_similar(alice, space, query, k=5,
                                     filters=search.SearchFilters(case_ids=[small.pk, other.pk]))
    d = 1 - few @ (query / np.linalg.norm(query))
    truth = [small_ids[i] for i in np.argsort(d, kind="stable")[:5]]
    pages, cursor = [], None
    for _ in range(10):  # page through the small case: 40 rows in pages of 15
        page = search.search_similar(alice, space, query, k=15, cursor=cursor,
                                     filters=search.SearchFilters(case_ids=[small.pk]))
        pages.append({"path": page.path, "ids": [h.finding_id for h in page.hits]})
        cursor = page.next_cursor
        if cursor is None:
            break
    print(json.dumps({
        "pgvector": search.pgvector_version(), "path": filtered.path, "candidates": filtered.candidates,
        "hits": [{"id": h.finding_id, "case": h.case_id, "distance": h.distance} for h in filtered.hits],
        "truth": truth, "small_case": small.pk, "small_ids": small_ids, "pages": pages,
    }))


if __name__ == "__main__":
    main()
