"""Watchlist matching: new findings → de-duplicated alerts → notifications.

Each watchlist kind has one *matcher*, a function registered with
``@register_matcher`` that looks at the findings one plugin job just stored on
one media item and yields ``Match`` objects. The core decides which watchlists
look at the media item's case, applies thresholds, de-duplicates (re-running a
job or reprocessing with a new model version raises no second alert for the same
thing) and queues notifications after commit.

Matchers live next to the feature they serve (keywords and event types here;
people, fingerprints and recordings in their own service modules) and are
imported by ``retrieval.apps`` so that registration happens in every process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from retrieval.models import Case, Finding, MediaItem
from retrieval.models.watchlists import Alert, AlertStatus, Watchlist, WatchlistEntry, WatchlistKind
from retrieval.services import audit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Match:
    """One watchlist entry recognised in one place of one media item."""

    entry: WatchlistEntry
    score: float  # calibrated, 0..1: compared with the watchlist threshold
    summary: str  # one line for the inbox, e.g. 'Keyword "bank" said at 00:12'
    dedup_key: str  # stable across re-runs and model versions for the same occurrence
    finding: Finding | None = None
    start_s: float | None = None
    end_s: float | None = None
    box: list[float] | None = None
    details: dict[str, Any] = field(default_factory=dict)


MatcherFn = Callable[[Watchlist, MediaItem, Sequence[Finding]], Iterable[Match]]


@dataclass(frozen=True)
class Matcher:
    kind: str
    plugins: frozenset[str]
    default_threshold: float
    fn: MatcherFn


_MATCHERS: dict[str, Matcher] = {}


def register_matcher(*, kind: str, plugins: Iterable[str],
                     default_threshold: float) -> Callable[[MatcherFn], MatcherFn]:
    """Register ``fn`` as the matcher of watchlists of ``kind`` for findings of ``plugins``."""
    if kind not in WatchlistKind.values:
        raise ValueError(f"unknown watchlist kind {kind!r}")

    def decorator(fn: MatcherFn) -> MatcherFn:
        _MATCHERS[kind] = Matcher(kind, frozenset(plugins), default_threshold, fn)
        return fn

    return decorator


def matcher_for(kind: str) -> Matcher | None:
    return _MATCHERS.get(kind)


def threshold_of(watchlist: Watchlist) -> float:
    if watchlist.threshold is not None:
        return watchlist.threshold
    matcher = matcher_for(watchlist.kind)
    return matcher.default_threshold if matcher else 1.0


def evaluate_media(media: MediaItem, plugin: str, model_version: str) -> list[Alert]:
    """Match the findings ``plugin``/``model_version`` stored on ``media`` against watching watchlists.

    Returns the alerts created now (existing ones are not repeated). A failing
    matcher is logged and audited but does not fail the processing job: the
    findings are stored and a later re-run matches again.
    """
    watchlists = [
        wl for wl in Watchlist.objects.watching(media.case_id).prefetch_related("entries")
        if (m := matcher_for(wl.kind)) is not None and plugin in m.plugins
    ]
    if not watchlists:
        return []
    findings = list(Finding.objects.filter(media=media, plugin=plugin, model_version=model_version))
    if not findings:
        return []
    created: list[Alert] = []
    for watchlist in watchlists:
        matcher = matcher_for(watchlist.kind)
        assert matcher is not None
        threshold = threshold_of(watchlist)
        try:
            matches = [m for m in matcher.fn(watchlist, media, findings) if m.score >= threshold]
        except Exception as exc:  # noqa: BLE001 - one broken matcher must not lose the job's findings
            log.exception("watchlist %s: matcher %s failed on media %s", watchlist.pk, watchlist.kind, media.pk)
            audit.record("watchlist.match_failed", target=watchlist, case_id=watchlist.case_id,
                         details={"media_id": media.pk, "error": f"{type(exc).__name__}: {exc}"[:500]})
            continue
        for match in matches:
            alert = _create_alert(watchlist, media, plugin, match)
            if alert is not None:
                created.append(alert)
    _notify_after_commit(created)
    return created


def _notify_after_commit(alerts: list[Alert]) -> None:
    """Queue e-mail/webhook delivery once the alerts are committed (a rolled-back job tells nobody)."""
    if not alerts:
        return
    from retrieval import tasks

    ids = [a.pk for a in alerts]
    transaction.on_commit(lambda: [tasks.notify_alert.delay(i) for i in ids])


def _create_alert(watchlist: Watchlist, media: MediaItem, plugin: str, match: Match) -> Alert | None:
    try:
        with transaction.atomic():
            alert, created = Alert.objects.get_or_create(
                watchlist=watchlist, media=media, dedup_key=match.dedup_key[:200],
                defaults={
                    "entry": match.entry, "entry_label": match.entry.label[:200], "case_id": media.case_id,
                    "finding": match.finding, "plugin": plugin, "score": float(match.score),
                    "start_s": match.start_s, "end_s": match.end_s, "box": match.box,
                    "summary": match.summary[:300], "details": match.details,
                },
            )
    except IntegrityError:  # a concurrent job created it first
        return None
    if not created and alert.status == AlertStatus.NEW and match.score > alert.score:
        # A better model version saw the same occurrence more clearly: keep the alert, update its evidence.
        Alert.objects.filter(pk=alert.pk).update(score=float(match.score), finding=match.finding,
                                                 start_s=match.start_s, end_s=match.end_s, box=match.box)
    return alert if created else None


def review(alert: Alert, *, actor: Any, status: str, note: str = "", request: Any = None) -> Alert:
    """Confirm or dismiss an alert (or reopen it) with a note; audited."""
    if status not in AlertStatus.values:
        raise ValueError(f"unknown alert status {status!r}")
    if status == AlertStatus.DISMISSED and not note.strip():
        raise ValueError("say why the alert is dismissed")
    previous = alert.status
    alert.status = status
    alert.note = note.strip()
    alert.reviewed_by = actor if status != AlertStatus.NEW else None
    alert.reviewed_at = timezone.now() if status != AlertStatus.NEW else None
    alert.save(update_fields=["status", "note", "reviewed_by", "reviewed_at"])
    audit.record("alert.review", actor=actor, target=alert, case_id=alert.case_id, request=request,
                 details={"from": previous, "to": status, "note": alert.note[:500]})
    return alert


def create_watchlist(*, actor: Any, case: Case, name: str, kind: str, threshold: float | None = None,
                     description: str = "", watched_case_ids: Iterable[int] = (), webhook_url: str = "",
                     notify_usernames: Iterable[str] | None = None, request: Any = None) -> Watchlist:
    """A watchlist in ``case``; extra watched cases must be writable by ``actor``.

    ``notify_usernames`` (members of ``case``) are e-mailed about new alerts; ``None`` means the creator.
    """
    if kind not in WatchlistKind.values or kind == WatchlistKind.INTEGRITY:
        raise ValueError(f"unknown watchlist kind {kind!r}" if kind != WatchlistKind.INTEGRITY
                         else "integrity watchlists are created by the system")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be between 0 and 1")
    if webhook_url:
        from retrieval.services.notifications import check_webhook_url

        check_webhook_url(webhook_url)  # raises WebhookRefused (a ValueError)
    extra = set(watched_case_ids) - {case.pk}
    allowed = set(Case.objects.writable_by(actor).filter(pk__in=extra).values_list("id", flat=True))
    if extra - allowed:
        raise PermissionError("you can only watch cases you may add evidence to")
    notify = [actor] if notify_usernames is None else case_members(case, notify_usernames)
    with transaction.atomic():
        watchlist = Watchlist.objects.create(case=case, name=name.strip()[:200], kind=kind, threshold=threshold,
                                             description=description, webhook_url=webhook_url, created_by=actor)
        watchlist.watched_cases.set(allowed)
        watchlist.notify_users.set(notify)
        audit.record("watchlist.create", actor=actor, target=watchlist, case_id=case.pk, request=request,
                     details={"kind": kind, "name": watchlist.name,
                              "notify_users": sorted(u.get_username() for u in notify)})
    return watchlist


class NotACaseMember(ValueError):
    """A user chosen to be notified is not a member of the watchlist's case."""


def case_members(case: Case, usernames: Iterable[str]) -> list[Any]:
    """The users named ``usernames`` if each is a member of ``case``; else ``NotACaseMember`` naming them.

    Unknown usernames and existing non-members get the same answer, so this reveals no accounts.
    """
    wanted = {str(u).strip() for u in usernames if str(u).strip()}
    found = {m.user.get_username(): m.user
             for m in case.memberships.select_related("user").filter(user__username__in=wanted)}
    missing = sorted(wanted - found.keys())
    if missing:
        raise NotACaseMember(f"not a member of case “{case.title}”: {', '.join(missing)}")
    return [found[name] for name in sorted(found)]


def notified_members(watchlist: Watchlist) -> list[dict[str, Any]]:
    """Every member of the watchlist's case with their role and whether they are notified (for forms)."""
    chosen = set(watchlist.notify_users.values_list("id", flat=True))
    return [{"username": m.user.get_username(), "role": m.role, "role_label": m.get_role_display(),
             "notified": m.user_id in chosen}
            for m in watchlist.case.memberships.select_related("user").order_by("user__username")]


def set_notified_users(*, actor: Any, watchlist: Watchlist, usernames: Iterable[str], request: Any = None) -> list[Any]:
    """Choose who is e-mailed about the watchlist's new alerts: members of its case (any role, since
    viewers see alerts too). Only owners and investigators may change it; audited with before/after."""
    if not Watchlist.objects.writable_by(actor).filter(pk=watchlist.pk).exists():
        raise PermissionError("only owners and investigators of the case can change who is notified")
    users = case_members(watchlist.case, usernames)
    before = sorted(watchlist.notify_users.values_list("username", flat=True))
    after = [u.get_username() for u in users]
    with transaction.atomic():
        watchlist.notify_users.set(users)
        audit.record("watchlist.notify_users", actor=actor, target=watchlist, case_id=watchlist.case_id,
                     request=request, details={"from": before, "to": after})
    return users


def add_entry(*, actor: Any, watchlist: Watchlist, label: str, value: str = "",
              media_ids: Iterable[int] = (), data: dict[str, Any] | None = None, request: Any = None) -> WatchlistEntry:
    """Add an entry; enrolment media must belong to the watchlist's case."""
    label = label.strip()[:200] or value.strip()[:200]
    if not label:
        raise ValueError("an entry needs a label or a value")
    ids = set(media_ids)
    media = list(MediaItem.objects.filter(pk__in=ids, case_id=watchlist.case_id))
    if len(media) != len(ids):
        raise ValueError("enrolment media must be evidence of the watchlist's case")
    if watchlist.kind == WatchlistKind.KEYWORD and not value.strip():
        value = label
    with transaction.atomic():
        entry = WatchlistEntry.objects.create(watchlist=watchlist, label=label, value=value.strip()[:500],
                                              data=data or {})
        entry.media.set(media)
        audit.record("watchlist.entry_add", actor=actor, target=entry, case_id=watchlist.case_id,
                     request=request, details={"watchlist": watchlist.pk, "label": label})
    return entry


def raise_integrity_alerts(mismatches: Iterable[Any]) -> list[Alert]:
    """An alert for each stored original that no longer matches its SHA-256 (or is missing).

    Each case gets one system watchlist "Evidence integrity" (created on first need) whose
    notified users are the case owners; alerts are de-duplicated per item and expected hash.
    """
    created = []
    for m in mismatches:
        media = MediaItem.objects.filter(pk=m.media_id).select_related("case").first()
        if media is None:
            continue
        with transaction.atomic():
            watchlist, new = Watchlist.objects.get_or_create(
                case=media.case, kind=WatchlistKind.INTEGRITY,
                defaults={"name": "Evidence integrity", "threshold": 0.0,
                          "description": "System watchlist: stored originals re-hashed by the integrity check."},
            )
            if new:
                owners = media.case.memberships.filter(role="owner").values_list("user_id", flat=True)
                watchlist.notify_users.set(list(owners))
            entry, _ = WatchlistEntry.objects.get_or_create(watchlist=watchlist, label="SHA-256 mismatch")
        match = Match(entry=entry, score=1.0, dedup_key=f"integrity:{m.expected_sha256}",
                      summary=f"Stored original changed or missing: {media.original_name}"[:300],
                      details={"expected_sha256": m.expected_sha256, "actual_sha256": m.actual_sha256,
                               "reason": m.reason})
        alert = _create_alert(watchlist, media, "integrity", match)
        if alert is not None:
            created.append(alert)
    _notify_after_commit(created)
    return created


def unread_count(user: Any) -> int:
    return Alert.objects.visible_to(user).filter(status=AlertStatus.NEW).count()


# --- built-in matchers ------------------------------------------------------------------------------


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive, whitespace-tolerant pattern for a keyword or phrase."""
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


@register_matcher(kind=WatchlistKind.KEYWORD, plugins={"speech_translation"}, default_threshold=0.0)
def match_keywords(watchlist: Watchlist, media: MediaItem, findings: Sequence[Finding]) -> Iterable[Match]:
    """A keyword/phrase said in the original words or in the English translation of a segment."""
    entries = [e for e in watchlist.entries.all() if (e.value or e.label).strip()]
    patterns = [(e, phrase_pattern(e.value or e.label)) for e in entries]
    for finding in findings:
        english = str((finding.data or {}).get("text_en") or "")
        for entry, pattern in patterns:
            where = "original" if pattern.search(finding.text or "") else "English" if pattern.search(english) else ""
            if not where:
                continue
            yield Match(
                entry=entry, score=float(finding.score if finding.score is not None else 1.0),
                summary=f'"{entry.label}" said at {_clock(finding.start_s)} ({where} text)',
                dedup_key=f"kw:{entry.pk}:{round(finding.start_s or 0.0, 1)}",
                finding=finding, start_s=finding.start_s, end_s=finding.end_s,
                details={"text": finding.text[:500], "text_en": english[:500], "matched_in": where,
                         "language": (finding.data or {}).get("language")},
            )


@register_matcher(kind=WatchlistKind.EVENT_TYPE, plugins={"audio_events"}, default_threshold=0.5)
def match_event_types(watchlist: Watchlist, media: MediaItem, findings: Sequence[Finding]) -> Iterable[Match]:
    """An audio event whose label (security key or AudioSet class) is on the list."""
    entries = {(e.value or e.label).strip().lower(): e for e in watchlist.entries.all()}
    for finding in findings:
        if finding.label == "framewise" or finding.score is None:
            continue
        data = finding.data or {}
        names = {finding.label.lower(), str(data.get("audioset_class") or "").lower()}
        for name in names & entries.keys():
            entry = entries[name]
            plain = data.get("plain_name") or finding.label
            yield Match(
                entry=entry, score=float(finding.score),
                summary=f"{plain} at {_clock(finding.start_s)}",
                dedup_key=f"ev:{entry.pk}:{round(finding.start_s or 0.0)}",
                finding=finding, start_s=finding.start_s, end_s=finding.end_s,
                details={"label": finding.label, "audioset_class": data.get("audioset_class")},
            )
