"""Shared fixtures: embedded PostgreSQL+pgvector and Redis, personas, a real Celery worker process.

Personas (healthchecks style): ``alice`` owns a case, ``bob`` investigates in it,
``victor`` only views it, ``charlie`` belongs to another case, ``staff`` is a
staff user with no case membership.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings

from mmsec_site import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def embedded_services() -> Iterator[embedded.Paths]:
    """Start the test PostgreSQL/Redis under var/test (reused if already up); stop them at the end."""
    paths = embedded.paths(settings.VAR_DIR)
    was_running = embedded._pg_running(paths) is not None
    embedded.up(paths.var)
    storage = Path(settings.MMSEC_STORAGE_DIR)
    shutil.rmtree(storage, ignore_errors=True)
    storage.mkdir(parents=True, exist_ok=True)
    yield paths
    if not was_running:
        embedded.down(paths.var)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(embedded_services: embedded.Paths) -> None:
    """pytest-django hook: make sure the server exists before the test database is created."""


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: object) -> Iterator[None]:
    """Wrap pytest-django's setup: before the test database is dropped, end sessions that worker
    processes or live-server threads may still hold on it."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cur:  # type: ignore[attr-defined]
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def make_user(db: None, django_user_model: type) -> Callable[..., object]:
    def _make(username: str, **extra: object) -> object:
        return django_user_model.objects.create_user(username=username, password="pw-" + username, **extra)

    return _make


@pytest.fixture
def personas(make_user: Callable[..., object]) -> dict[str, object]:
    from retrieval.models import CaseRole
    from retrieval.services import cases

    alice = make_user("alice")
    bob = make_user("bob")
    victor = make_user("victor")
    charlie = make_user("charlie")
    staff = make_user("staff", is_staff=True, is_superuser=True)
    case = cases.create_case(actor=alice, title="Harbour break-in")
    cases.set_member(actor=alice, case=case, user=bob, role=CaseRole.INVESTIGATOR)
    cases.set_member(actor=alice, case=case, user=victor, role=CaseRole.VIEWER)
    other = cases.create_case(actor=charlie, title="Other case")
    return {"alice": alice, "bob": bob, "victor": victor, "charlie": charlie, "staff": staff,
            "case": case, "other_case": other}


@pytest.fixture
def api(personas: dict[str, object]) -> Callable[[str], object]:
    """An authenticated DRF client for a persona name (or anonymous for None)."""
    from rest_framework.test import APIClient

    def _client(name: str | None) -> APIClient:
        client = APIClient()
        if name:
            client.force_authenticate(personas[name])
        return client

    return _client


class WorkerProcess:
    """A real ``celery worker`` subprocess on the test Redis and test database."""

    def __init__(self, queues: str, extra_env: dict[str, str] | None = None) -> None:
        self.queues = queues
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(settings.VAR_DIR) / f"worker-{os.getpid()}-{time.time_ns()}.log"

    def start(self) -> WorkerProcess:
        env = dict(os.environ)
        env.update({
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "MMSEC_DATABASE_NAME": settings.DATABASES["default"]["NAME"],
            "MMSEC_VAR_DIR": str(settings.VAR_DIR),
            "MMSEC_STORAGE_DIR": str(settings.MMSEC_STORAGE_DIR),
            **self.extra_env,
        })
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mmsec_site", "worker", "-Q", self.queues, "-c", "1",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
             "-n", f"test-{time.time_ns()}@%h"],
            cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """kill -9 the whole process group (parent and pool children)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._log.close()


def flush_redis() -> None:
    import redis as redis_lib

    paths = embedded.paths(settings.VAR_DIR)
    redis_lib.Redis(unix_socket_path=str(paths.redis_socket)).flushall()


@pytest.fixture
def worker_factory(transactional_db: None) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real worker processes (stopped at teardown). Tests using it see committed data only."""
    flush_redis()
    started: list[WorkerProcess] = []

    def _start(queues: str | None = None, **env: str) -> WorkerProcess:
        from mmsec_site.run import all_queues

        worker = WorkerProcess(queues or ",".join(all_queues()), env).start()
        started.append(worker)
        return worker

    yield _start
    for worker in started:
        worker.stop()


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition",
             on_timeout: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    detail = on_timeout() if on_timeout else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{detail}")
