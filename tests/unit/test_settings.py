"""Settings parsing: DATABASE_URL for production, secrets from files."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mmsec_site.env import env_bool, env_secret
from mmsec_site.settings import _database_from_url


def test_it_parses_a_tcp_database_url() -> None:
    db = _database_from_url("postgresql://app:s%40cret@db.internal:5433/mmsec?sslmode=require")
    assert (db["HOST"], db["PORT"], db["NAME"], db["USER"], db["PASSWORD"]) == (
        "db.internal", "5433", "mmsec", "app", "s@cret")
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_it_parses_a_socket_database_url() -> None:
    db = _database_from_url("postgresql://postgres@/postgres?host=/var/run/postgresql")
    assert db["HOST"] == "/var/run/postgresql"


def test_it_rejects_non_postgres_urls() -> None:
    with pytest.raises(ImproperlyConfigured):
        _database_from_url("sqlite:///db.sqlite3")


def test_it_reads_secrets_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-file\n")
    monkeypatch.setenv("MMSEC_TEST_SECRET_FILE", str(secret))
    assert env_secret("MMSEC_TEST_SECRET") == "from-file"


def test_it_rejects_bad_booleans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMSEC_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="MMSEC_FLAG"):
        env_bool("MMSEC_FLAG")


@pytest.mark.parametrize("env, expected", [
    ({}, "var/models"),
    ({"MMSEC_VAR_DIR": "/srv/mmsec-state"}, "/srv/mmsec-state/models"),
    ({"MMSEC_VAR_DIR": "/srv/mmsec-state", "MMSEC_MODEL_DIR": "/opt/weights"}, "/opt/weights"),
])
def test_make_models_installs_where_the_settings_look(env: dict[str, str], expected: str) -> None:
    """`make run` with MMSEC_VAR_DIR (or MMSEC_MODEL_DIR) must find the weights that `make models` installed:
    the Makefile and settings.MMSEC_MODEL_DIR agree on the directory (regression: the load test's `make run`
    in its own state dir failed every face job with "model file not found")."""
    import os
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("no make")
    root = Path(__file__).resolve().parents[2]
    clean = {k: v for k, v in os.environ.items() if k not in ("MMSEC_VAR_DIR", "MMSEC_MODEL_DIR")}
    out = subprocess.run(["make", "-n", "models"], cwd=root, env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout
    installs = [line for line in out.splitlines() if "install_models" in line]
    assert installs and all(f" {expected}/" in line for line in installs), out


def test_embedded_postgres_shared_buffers_come_from_the_environment(monkeypatch) -> None:
    """Large HNSW indexes need PostgreSQL's own cache: ``MMSEC_PG_SHARED_BUFFERS`` sets it, checked strictly
    because it is pasted into the server's command line."""
    from mmsec_site import embedded

    monkeypatch.delenv("MMSEC_PG_SHARED_BUFFERS", raising=False)
    assert embedded._shared_buffers() == "256MB"
    monkeypatch.setenv("MMSEC_PG_SHARED_BUFFERS", "4GB")
    assert embedded._shared_buffers() == "4GB"
    for bad in ("4 GB", "lots", "1GB -c fsync=off", "-1MB"):
        monkeypatch.setenv("MMSEC_PG_SHARED_BUFFERS", bad)
        with pytest.raises(SystemExit, match="MMSEC_PG_SHARED_BUFFERS"):
            embedded._shared_buffers()
