"""A small, fixed sample of the hostile corpus (bench/hostile_corpus.py), in the suite.

1. Every file through the decoders in an isolated process with time and memory limits: no crash, hang,
   memory blow-up or unexpected exception (bench/hostile_ingest.py runs the 10,000-file corpus).
2. Every file through upload and the metadata step: each ends ``ready`` or ``failed`` with a readable
   reason (no traceback, no server path), and a good item of the same case is untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from bench import hostile_corpus, hostile_ingest
from retrieval import storage
from retrieval.models import MediaItem
from tests import samples
from tests.helpers import process_inline, upload

N = 100


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hostile")
    hostile_corpus.generate(out, N, seed=7)
    return out


def _files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name != "manifest.csv")


def test_decoders_survive_the_sample_within_limits(corpus: Path) -> None:
    results = hostile_ingest.run(corpus, _files(corpus), timeout=60.0, memory_mb=1536, jobs=2)
    assert len(results) == N
    problems = [r for r in results if r["outcome"] not in ("ok", "rejected")]
    assert not problems, problems
    assert sum(r["outcome"] == "rejected" for r in results) > N // 3  # the corpus really is hostile


@pytest.mark.django_db
def test_every_hostile_upload_ends_ready_or_failed_with_a_readable_reason(corpus: Path, api, personas) -> None:
    case = personas["case"]
    good = process_inline(upload(api("alice"), case.pk, "good.png", samples.png_bytes()).json()[0]["media"]["id"])
    ids = []
    for path in _files(corpus):
        response = upload(api("alice"), case.pk, path.name, path.read_bytes())
        assert response.status_code == 201, (path, response.content[:300])
        ids.append(response.json()[0]["media"]["id"])
    for media_id in set(ids):
        process_inline(media_id)
    items = MediaItem.objects.filter(pk__in=ids)
    assert {m.status for m in items} <= {"ready", "failed"}
    for item in items.filter(status="failed"):
        assert item.error and len(item.error) < 2000, item.pk
        assert "Traceback" not in item.error and str(settings.MMSEC_STORAGE_DIR) not in item.error, item.error
    assert items.filter(status="failed").count() > N // 3
    good.refresh_from_db()
    assert good.status == "ready" and good.has_preview
    assert storage.hash_file(storage.object_path(good.sha256)) == good.sha256
    assert list(storage.tmp_dir().glob("*")) == []
