"""Telling people about new alerts: e-mail through Django's backend and an optional webhook.

Only users who may see the alert (both its evidence case and its watchlist's
case) are e-mailed, checked at sending time, so a member removed since the
watchlist was made is not told. The webhook body carries identifiers, the
summary and a link, never evidence content.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from retrieval.models import Alert

log = logging.getLogger(__name__)


class WebhookRefused(ValueError):
    """The webhook address is not allowed (scheme, or a private/loopback host without opt-in)."""


def check_webhook_url(url: str) -> None:
    """Refuse webhooks that would make the server call itself or the internal network (SSRF).

    Private, loopback, link-local and reserved addresses are refused unless
    ``MMSEC_WEBHOOK_ALLOW_PRIVATE`` is set (an on-premises receiver). Checked when
    the watchlist is saved and again before each delivery, since DNS can change.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("a webhook must be an http(s) URL with a host name")
    if settings.MMSEC_WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise WebhookRefused(f"webhook host {parts.hostname!r} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise WebhookRefused(f"webhook host {parts.hostname!r} is a private or local address ({address}); "
                                 "set MMSEC_WEBHOOK_ALLOW_PRIVATE=true to allow receivers inside your network")


def alert_url(alert: Alert) -> str:
    return settings.MMSEC_BASE_URL + reverse("alert-detail", args=[alert.pk])


def webhook_payload(alert: Alert) -> dict[str, Any]:
    return {
        "event": "alert.created",
        "alert_id": alert.pk,
        "watchlist": {"id": alert.watchlist_id, "name": alert.watchlist.name, "kind": alert.watchlist.kind},
        "entry": alert.entry_label,
        "case_id": alert.case_id,
        "media_id": alert.media_id,
        "score": round(alert.score, 4),
        "start_s": alert.start_s,
        "end_s": alert.end_s,
        "summary": alert.summary,
        "url": alert_url(alert),
        "created_at": alert.created_at.isoformat(),
    }


def notify(alert_id: int) -> dict[str, Any]:
    """Send the e-mails and the webhook for one alert once; returns what was done."""
    alert = Alert.objects.select_related("watchlist", "case", "media").filter(pk=alert_id).first()
    if alert is None or alert.notified_at is not None:
        return {"skipped": True}
    recipients = [
        u.email for u in alert.watchlist.notify_users.filter(is_active=True).exclude(email="")
        if Alert.objects.visible_to(u).filter(pk=alert.pk).exists()
    ]
    if recipients:
        send_mail(
            subject=f"[mmsec] {alert.watchlist.name}: {alert.summary}"[:200],
            message=(f"Watchlist: {alert.watchlist.name}\nEntry: {alert.entry_label}\nCase: {alert.case.title}\n"
                     f"Evidence: {alert.media.original_name}\nScore: {alert.score:.2f}\n\n{alert_url(alert)}\n"),
            from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=recipients, fail_silently=False,
        )
    webhook_status = None
    if alert.watchlist.webhook_url:
        check_webhook_url(alert.watchlist.webhook_url)
        body = json.dumps(webhook_payload(alert)).encode()
        request = urllib.request.Request(alert.watchlist.webhook_url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "mmsec"})
        with urllib.request.urlopen(request, timeout=settings.MMSEC_WEBHOOK_TIMEOUT_S) as response:  # noqa: S310
            webhook_status = response.status
    Alert.objects.filter(pk=alert.pk).update(notified_at=timezone.now())
    return {"emails": len(recipients), "webhook_status": webhook_status}
