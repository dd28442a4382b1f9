"""Deployment security: `check --deploy` with production settings, secrets from files, headers and cookies,
login rate limiting (page, admin, API token) and CSRF on every unsafe request of every URL pattern."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from retrieval.models import AuditEvent
from tests.urlmatrix import CONSTANT_TOKENS, all_routes, token_for

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SECRET = "s3cr3t-" + "k" * 60


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # A clean deployment environment: nothing from the test run (e.g. DJANGO_ALLOW_ASYNC_UNSAFE, which the
    # browser tests set and `check --deploy` rightly reports).
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MMSEC_", "DATABASE_URL", "REDIS_URL", "DJANGO_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "mmsec_site.settings", "MMSEC_PRODUCTION": "1",
                "MMSEC_ALLOWED_HOSTS": "mmsec.example.org", "MMSEC_VAR_DIR": str(tmp_path / "var"),
                "MMSEC_LOG_LEVEL": "WARNING", **extra})
    return env


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(SECRET + "\n")
    env = _production_env(tmp_path, MMSEC_SECRET_KEY_FILE=str(key_file))
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    result = _python("import django; django.setup()", _production_env(tmp_path))
    assert result.returncode != 0 and "MMSEC_SECRET_KEY" in result.stderr


def test_secrets_come_from_file_variables(tmp_path: Path) -> None:
    files = {"MMSEC_SECRET_KEY": SECRET, "DATABASE_URL": "postgresql://app:pw%40x@db.internal:5433/mmsec",
             "REDIS_URL": "redis://:redispw@redis.internal:6379/2"}
    env = _production_env(tmp_path)
    for name, value in files.items():
        (tmp_path / name).write_text(value + "\n")
        env[f"{name}_FILE"] = str(tmp_path / name)
    code = ("import django, json; django.setup(); from django.conf import settings as s; d = s.DATABASES['default'];"
            "print(json.dumps([s.SECRET_KEY, d['HOST'], d['PORT'], d['PASSWORD'], s.CELERY_BROKER_URL]))")
    result = _python(code, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        SECRET, "db.internal", "5433", "pw@x", files["REDIS_URL"]]


def test_production_responses_carry_security_headers_and_secure_cookies(tmp_path: Path) -> None:
    code = """
import django, json; django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
c = Client()
plain = c.get('/login/', HTTP_HOST='mmsec.example.org')
r = c.get('/login/', secure=True, HTTP_HOST='mmsec.example.org')
cookie = r.cookies['csrftoken']
print(json.dumps({'plain': [plain.status_code, plain.get('Location', '')], 'status': r.status_code,
  'headers': {k: r.get(k, '') for k in ['Strict-Transport-Security', 'Content-Security-Policy', 'X-Frame-Options',
  'X-Content-Type-Options', 'Referrer-Policy', 'Cross-Origin-Opener-Policy', 'Permissions-Policy']},
  'csrf_secure': bool(cookie['secure']), 'csrf_samesite': cookie['samesite'],
  'session': [django.conf.settings.SESSION_COOKIE_SECURE, django.conf.settings.SESSION_COOKIE_HTTPONLY]}))
"""
    env = _production_env(tmp_path, MMSEC_SECRET_KEY=SECRET)
    result = _python(code, env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["plain"] == [301, "https://mmsec.example.org/login/"]
    assert out["status"] == 200
    headers = out["headers"]
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin" and headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert out["csrf_secure"] and out["csrf_samesite"] == "Lax"
    assert out["session"] == [True, True]


@pytest.mark.django_db
def test_login_page_locks_a_username_after_repeated_failures(client: Client, personas, settings) -> None:
    settings.MMSEC_LOGIN_MAX_FAILURES_PER_USER = 5
    for _ in range(5):
        response = client.post("/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200 and b"correct username and password" in response.content
    assert AuditEvent.objects.filter(action="auth.login.failed", details__username="alice").count() == 5
    # Now even the right password is refused, without being checked.
    response = client.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200 and b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session
    # Another user from the same address still logs in (per-IP limit not reached), and it is audited.
    response = client.post("/login/", {"username": "bob", "password": "pw-bob"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", actor_name="bob").exists()


@pytest.mark.django_db
def test_one_address_is_limited_across_usernames_and_the_admin_and_api_logins(personas, settings) -> None:
    settings.MMSEC_LOGIN_MAX_FAILURES_PER_IP = 6
    client = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(3):
        client.post("/login/", {"username": f"nobody{i}", "password": "x"})
        client.post("/admin/login/", {"username": f"ghost{i}", "password": "x"})
    response = client.post("/admin/login/", {"username": "staff", "password": "pw-staff"})
    assert b"Too many failed logins" in response.content
    api = APIClient(REMOTE_ADDR="203.0.113.9")
    response = api.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-alice"}, format="json")
    assert response.status_code == 429 and "Retry-After" in response
    other = APIClient(REMOTE_ADDR="198.51.100.7")
    assert other.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-alice"},
                      format="json").status_code == 200


@pytest.mark.django_db
def test_every_unsafe_request_without_a_csrf_token_is_refused(personas) -> None:
    """Logged in with a session cookie, no CSRF token: every URL pattern refuses POST/PUT/PATCH/DELETE."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(personas["alice"])
    problems = []
    for route in all_routes():
        url = "/" + route.template % {p: CONSTANT_TOKENS.get(token_for(route, p), "1") for p in route.params}
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url)
            if response.status_code != 403:
                problems.append(f"{method.upper()} {url} ({route.view}): {response.status_code}")
    assert not problems, "accepted without a CSRF token:\n" + "\n".join(problems)
