"""Restarting PostgreSQL and Redis under a running web server (gunicorn) and worker: both recover by themselves.

Real processes throughout: gunicorn serves the test database, a Celery worker processes uploads, and
the embedded PostgreSQL/Redis are stopped and started again with their own control commands.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from mmsec_site import embedded
from retrieval.models import JobState, MediaItem, ProcessingJob
from tests import samples
from tests.conftest import BASE_DIR, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class WebProcess:
    """gunicorn on a loopback port, on the test database (what `make run` starts, minus the worker)."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.log_path = Path(settings.VAR_DIR) / f"web-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WebProcess:
        env = dict(os.environ)
        env.update({"DJANGO_SETTINGS_MODULE": "tests.settings", "MMSEC_VAR_DIR": str(settings.VAR_DIR),
                    "MMSEC_DATABASE_NAME": settings.DATABASES["default"]["NAME"],
                    "MMSEC_STORAGE_DIR": str(settings.MMSEC_STORAGE_DIR)})
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "mmsec_site.wsgi:application", "-b", f"127.0.0.1:{self.port}",
             "-k", "gthread", "-w", "1", "--threads", "4", "--timeout", "120"],
            cwd=BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: self.status("/health/") == 200, timeout=60, what="gunicorn", on_timeout=self.log)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def request(self, path: str, token: str | None = None, data: bytes | None = None,
                content_type: str | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data)
        if token:
            req.add_header("Authorization", f"Token {token}")
        if content_type:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def status(self, path: str) -> int:
        return self.request(path)[0]

    def upload(self, token: str, case_id: int, name: str, data: bytes) -> tuple[int, bytes]:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"case\"\r\n\r\n{case_id}\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.request("/api/v1/media/", token, body, f"multipart/form-data; boundary={boundary}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


@pytest.fixture
def web(worker_factory):
    server = WebProcess().start()
    yield server
    server.stop()


def _ready(media_id: int) -> bool:
    return MediaItem.objects.get(pk=media_id).status == "ready"


def _upload_and_wait(web: WebProcess, token: str, case_id: int, name: str, width: int, on_timeout) -> int:
    status, body = web.upload(token, case_id, name, samples.png_bytes(width, 40))
    assert status == 201, body[:500]
    media_id = json.loads(body)[0]["media"]["id"]
    wait_for(lambda: _ready(media_id), timeout=90, what=f"{name} processed", on_timeout=on_timeout)
    return media_id


def test_web_and_worker_recover_from_a_postgresql_restart(personas, worker_factory, web) -> None:
    worker = worker_factory()
    token = Token.objects.create(user=personas["alice"]).key
    case_id = personas["case"].pk
    _upload_and_wait(web, token, case_id, "before.png", 50, worker.log)

    paths = embedded.paths(settings.VAR_DIR)
    embedded.pg_down(paths)
    started = time.monotonic()
    assert web.status("/health/") >= 500  # fails fast while the database is down, does not hang
    assert time.monotonic() - started < 20
    embedded.pg_up(paths)
    connection.close()  # this test process's own session died with the server

    wait_for(lambda: web.status("/health/") == 200, timeout=30, what="web back after the restart",
             on_timeout=web.log)
    media_id = _upload_and_wait(web, token, case_id, "after.png", 60, lambda: worker.log() + web.log())
    assert ProcessingJob.objects.filter(media_id=media_id).exclude(state=JobState.DONE).count() == 0
    assert worker.proc.poll() is None and web.proc.poll() is None  # nobody had to be restarted


def test_web_and_worker_recover_from_a_redis_restart_without_losing_work(personas, worker_factory, web,
                                                                        settings) -> None:
    worker = worker_factory()
    token = Token.objects.create(user=personas["alice"]).key
    case_id = personas["case"].pk
    _upload_and_wait(web, token, case_id, "before.png", 50, worker.log)

    worker.stop()  # work queued while no worker runs must survive the Redis restart (append-only file)
    status, body = web.upload(token, case_id, "queued.png", samples.png_bytes(70, 40))
    assert status == 201
    queued_id = json.loads(body)[0]["media"]["id"]
    paths = embedded.paths(settings.VAR_DIR)
    embedded.redis_down(paths)
    status, body = web.upload(token, case_id, "while-down.png", samples.png_bytes(80, 40))
    assert status in (201, 503) or status >= 500, body[:300]  # refused or stored, never half of each
    embedded.redis_up(paths)

    second = worker_factory()
    after_id = _upload_and_wait(web, token, case_id, "after.png", 90, lambda: second.log() + web.log())
    settings.MMSEC_JOB_STALE_SECONDS = 0  # what beat's reconciler does for anything whose message was lost
    from retrieval.services import jobs

    jobs.reconcile()
    wait_for(lambda: not MediaItem.objects.filter(case_id=case_id, status__in=["pending", "processing"]).exists(),
             timeout=90, what="every upload processed", on_timeout=second.log)
    assert _ready(queued_id) and _ready(after_id)
    for media in MediaItem.objects.filter(case_id=case_id):
        assert ProcessingJob.objects.filter(media=media, step="metadata").count() == 1, media.original_name
