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
