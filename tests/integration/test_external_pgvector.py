"""The search service on an external PostgreSQL with a newer pgvector (>= 0.8: iterative index scans).

The embedded server carries pgvector 0.6.2, so this runs a second, real PostgreSQL: PGlite (PostgreSQL compiled
to WebAssembly, with its pgvector 0.8 extension) behind a wire-protocol socket (``tests/pgvector_next``, npm
packages installed by ``make test``). The platform is pointed at it with ``DATABASE_URL`` exactly as a deployment
would be, migrated, filled through the services and searched with ``search_similar`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[2]
HERE = BASE / "tests" / "pgvector_next"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (HERE / "node_modules" / "@electric-sql" / "pglite-socket").is_dir(),
    reason="needs node and the npm packages of tests/pgvector_next (make test installs them)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_line(proc: subprocess.Popen, prefix: str, timeout: float) -> str:
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            seen.append(line)
            if line.startswith(prefix):
                return line
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"server did not start: {''.join(seen)!r}")


@pytest.fixture(scope="module")
def newer_pgvector(tmp_path_factory: pytest.TempPathFactory) -> dict:
    port = _free_port()
    server = subprocess.Popen(["node", str(HERE / "server.mjs"), str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_line(server, "listening", 60)
        env = {k: v for k, v in os.environ.items() if k not in ("MMSEC_DATABASE_NAME", "DATABASE_REPLICA_URL")}
        env |= {"DATABASE_URL": f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres",
                "REDIS_URL": "redis://127.0.0.1:1/0", "MMSEC_VAR_DIR": str(tmp_path_factory.mktemp("var"))}
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE, env=env,
                       check=True, timeout=600)
        done = subprocess.run([sys.executable, str(HERE / "search_check.py")], cwd=BASE, env=env, timeout=600,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_newer_pgvector_is_detected(newer_pgvector: dict) -> None:
    from retrieval.services import search

    assert search.parse_version(newer_pgvector["pgvector"]) >= (0, 8, 0)


def test_a_selective_filter_keeps_the_index_with_iterative_scans_and_returns_k_rows(newer_pgvector: dict) -> None:
    result = newer_pgvector
    assert result["candidates"] == 40  # about 1 % of the space
    assert result["path"].startswith("hnsw-iterative(ef=") and "exact" not in result["path"]
    hits = result["hits"]
    assert len(hits) == 5 and {h["case"] for h in hits} == {result["small_case"]}  # never the invisible copies
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    assert len(set(result["truth"]) & {h["id"] for h in hits}) >= 4


def test_cursor_pages_through_the_iterative_path_are_complete(newer_pgvector: dict) -> None:
    pages = newer_pgvector["pages"]
    got = [fid for page in pages for fid in page["ids"]]
    assert [len(p["ids"]) for p in pages] == [15, 15, 10]
    assert len(got) == len(set(got)) and set(got) == set(newer_pgvector["small_ids"])
    # the last page needs 15 + 30 + 1 rows of a 40-row set: the planner knows the index cannot fill it
    assert [p["path"].split("(")[0] for p in pages] == ["hnsw-iterative", "hnsw-iterative", "exact"]
