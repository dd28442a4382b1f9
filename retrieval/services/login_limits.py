"""Login rate limiting, shared by every web process through the audit table (no extra service).

Each failed login (page, admin, API token) is an ``auth.login.failed`` audit event with the client IP and
the username tried. Before a password is checked, :func:`retry_after` counts the failures of the last
``MMSEC_LOGIN_WINDOW_S`` seconds for that IP and for that username; over either limit the attempt is
refused without checking the password. The per-username limit lets someone lock a known account for one
window; it is the usual trade against password guessing from many addresses.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from retrieval.models import AuditEvent
from retrieval.services import audit

FAILED = "auth.login.failed"


def _limits() -> tuple[int, int, int]:
    return (int(settings.MMSEC_LOGIN_WINDOW_S), int(settings.MMSEC_LOGIN_MAX_FAILURES_PER_IP),
            int(settings.MMSEC_LOGIN_MAX_FAILURES_PER_USER))


def _username(raw: str) -> str:
    return audit.storable(str(raw or ""))[:150]


def record_failure(username: str, request: Any) -> None:
    audit.record(FAILED, details={"username": _username(username)}, request=request)


def record_success(user: Any, request: Any) -> None:
    audit.record("auth.login", actor=user, request=request)


def retry_after(username: str, request: Any) -> int | None:
    """Seconds until another attempt is allowed for this IP/username, or None if allowed now."""
    window, per_ip, per_user = _limits()
    since = timezone.now() - timedelta(seconds=window)
    recent = AuditEvent.objects.filter(action=FAILED, time__gte=since)
    waits = []
    ip = audit.client_ip(request)
    for qs, limit in ((recent.filter(ip=ip) if ip else None, per_ip),
                      (recent.filter(details__username=_username(username)) if username else None, per_user)):
        if qs is None or limit <= 0:
            continue
        if qs.count() >= limit:
            # Allowed again once the oldest failure that still counts leaves the window.
            oldest = qs.order_by("-time")[limit - 1 : limit].aggregate(t=Min("time"))["t"] or timezone.now()
            waits.append(max(1, int((oldest + timedelta(seconds=window) - timezone.now()).total_seconds()) + 1))
    return max(waits) if waits else None


def refusal_message(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"Too many failed logins. Try again in about {minutes} minute{'s' if minutes != 1 else ''}."
