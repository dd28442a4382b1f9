"""Numbers and small pictures for the case page: per-item badges and activity over time.

Queries are bounded by the page (badges) or by a date window (activity) so the
case page stays fast with 10,000 items and 100,000 detections.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from retrieval.models import Alert, AuditEvent, Finding, ProcessingJob

#: Plugin -> the badge a media card shows for its labelled findings.
BADGES: dict[str, str] = {
    "face": "face", "face_dlib": "face", "audio_events": "event", "speech_translation": "segment",
    "audio_fingerprint": "match", "fingerprint": "print",
}


def badges_for(media_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """``{media_id: {"face": 3, "event": 5, "alert": 1, ...}}`` (singular nouns) for the items on one page."""
    ids = list(media_ids)
    out: dict[int, dict[str, int]] = {i: {} for i in ids}
    if not ids:
        return out
    for media_id, per_plugin in detections_by_media(media_id__in=ids, plugin__in=list(BADGES)).items():
        for plugin, n in per_plugin.items():
            badge = BADGES[plugin]
            out[media_id][badge] = out[media_id].get(badge, 0) + n
    for row in Alert.objects.filter(media_id__in=ids).values("media_id").annotate(n=Count("id")):
        out[row["media_id"]]["alert"] = row["n"]
    return out


def partial_analysis(**filters: object) -> dict[int, list[str]]:
    """``{media_id: ["<plugin>: <warning>", ...]}`` for media items whose analysis covered only part of them
    (``ProcessingJob.warning``), for jobs matching ``filters`` (e.g. ``media_id__in=``, ``media__case_id=``)."""
    out: dict[int, list[str]] = {}
    rows = (ProcessingJob.objects.filter(**filters).exclude(warning="").order_by("media_id", "step")
            .values_list("media_id", "step", "warning"))
    from retrieval.services.plugins import parse_step

    for media_id, step, warning in rows:
        out.setdefault(media_id, []).append(f"{parse_step(step)[0]}: {warning}")
    return out


def detections_by_media(**filters: object) -> dict[int, dict[str, int]]:
    """``{media_id: {plugin: n}}`` of *detections*: findings with a label or text (not bare vectors or
    the audio-events ``framewise`` score summary), for findings matching ``filters``."""
    out: dict[int, dict[str, int]] = {}
    rows = (Finding.objects.filter(**filters).exclude(label="framewise").exclude(label="", text="")
            .values("media_id", "plugin").annotate(n=Count("id")))
    for row in rows:
        out.setdefault(row["media_id"], {})[row["plugin"]] = row["n"]
    return out


@dataclass(frozen=True)
class DayBar:
    day: date
    uploads: int
    alerts: int
    other: int


def activity_by_day(case_id: int, days: int = 30) -> list[DayBar]:
    """Uploads, alerts and other audited actions per day over the last ``days`` days (oldest first)."""
    today = timezone.now().date()
    start = today - timedelta(days=days - 1)
    rows = (AuditEvent.objects.filter(case_id=case_id, time__date__gte=start)
            .annotate(day=TruncDate("time")).values("day", "action").annotate(n=Count("id")))
    uploads: dict[date, int] = {}
    other: dict[date, int] = {}
    for row in rows:
        target = uploads if row["action"] == "media.upload" else other
        target[row["day"]] = target.get(row["day"], 0) + row["n"]
    alerts = dict(Alert.objects.filter(case_id=case_id, created_at__date__gte=start)
                  .annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id")).values_list("day", "n"))
    return [DayBar(d, uploads.get(d, 0), alerts.get(d, 0), other.get(d, 0))
            for d in (start + timedelta(days=i) for i in range(days))]


def activity_svg_bars(bars: list[DayBar], width: int = 300, height: int = 60) -> list[dict[str, float | str]]:
    """Stacked bar geometry for the template's inline SVG (no chart library needed)."""
    peak = max((b.uploads + b.alerts + b.other for b in bars), default=0) or 1
    step = width / max(len(bars), 1)
    out: list[dict[str, float | str]] = []
    for i, b in enumerate(bars):
        y = float(height)
        for kind, n in (("uploads", b.uploads), ("alerts", b.alerts), ("other", b.other)):
            if not n:
                continue
            h = height * n / peak
            y -= h
            out.append({"x": round(i * step + 1, 2), "y": round(y, 2), "w": round(step - 2, 2), "h": round(h, 2),
                        "kind": kind, "title": f"{b.day:%Y-%m-%d}: {n} {kind}"})
    return out
