"""docker-compose.yml is validated offline: `docker compose config` where the client has compose,
otherwise a structural check of services, images, volumes, health checks and GPU reservations."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _docker_compose_available() -> bool:
    docker = shutil.which("docker")
    if not docker:
        return False
    return subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0


def test_compose_file_has_the_production_services() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert {"db", "redis", "web", "worker-cpu", "beat", "migrate"} <= set(services)
    assert any(name.startswith("worker-gpu") for name in services)
    assert services["db"]["image"].startswith("pgvector/pgvector:")
    assert services["redis"]["image"].startswith("redis:")
    for name in ("db", "redis", "web"):
        assert "healthcheck" in services[name], name
    for name, svc in services.items():
        if name.startswith("worker-gpu"):
            devices = svc["deploy"]["resources"]["reservations"]["devices"]
            assert devices[0]["capabilities"] == ["gpu"]
            assert "-c" in svc["command"] and svc["command"][svc["command"].index("-c") + 1] == "1"
        if name not in ("db", "redis"):
            env = svc["environment"]
            assert "DATABASE_URL" in env and "REDIS_URL" in env, name
            assert "MMSEC_SECRET_KEY_FILE" in env, name
    assert {"pgdata", "redisdata", "evidence"} <= set(doc["volumes"])


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    if not _docker_compose_available():
        pytest.skip("no `docker compose` client on this machine; the structural test above checks the file")
    secrets = ROOT / "secrets"
    created = not secrets.exists()
    secrets.mkdir(exist_ok=True)
    for name in ("db_password", "secret_key"):
        (secrets / name).touch()
    try:
        result = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True,
                                text=True, cwd=ROOT)
        assert result.returncode == 0, result.stderr
    finally:
        if created:
            shutil.rmtree(secrets)
