"""Fingerprints on shared pages: the print viewer panel on the media page and the fingerprint watchlist matcher."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from retrieval.models import Case, Finding, FingerPosition, MediaItem, Subject, Watchlist, WatchlistKind
from retrieval.models.cases import WRITE_ROLES
from retrieval.services import fingerprints
from retrieval.services.panels import Panel, register_panel
from retrieval.services.search_portal import SearchMode, register_search_mode
from retrieval.services.watchlists import Match, register_matcher


@register_matcher(kind=WatchlistKind.FINGERPRINT, plugins={fingerprints.PLUGIN},
                  default_threshold=fingerprints.watchlist_default_threshold())
def match_fingerprints(watchlist: Watchlist, media: MediaItem, findings: Sequence[Finding]) -> Iterable[Match]:
    return fingerprints.match_watchlist(watchlist, media, list(findings))


@register_panel
def fingerprint_panel(media: MediaItem, user: Any) -> Panel | None:
    if media.kind != "image":
        return None
    finding = fingerprints.print_finding(media)
    job = fingerprints.job_state(media)
    if finding is None and job is None:
        return None
    writable = media.case.role_of(user) in WRITE_ROLES
    visible = Case.objects.visible_to(user)
    context: dict[str, Any] = {
        "media": media, "job": job, "writable": writable, "user_dpi": (media.metadata or {}).get("user_dpi"),
        "enrolments": list(media.fingerprint_enrolments.select_related("subject")),
        "fingers": FingerPosition.choices,
        "min_quality": fingerprints.enrol_min_quality(),
    }
    if finding is not None:
        context["view"] = fingerprints.print_view(media, finding)
        context["subjects"] = list(Subject.objects.filter(case=media.case).order_by("name", "reference")[:500])
        context["verify_subjects"] = list(Subject.objects.filter(case__in=visible, enrolments__isnull=False)
                                          .distinct().select_related("case").order_by("name", "reference")[:500])
    return Panel(key="fingerprint", title="Fingerprint", template="retrieval/fingerprints/_panel.html",
                 context=context, order=10)


register_search_mode(SearchMode(
    key="fingerprints", title="Fingerprints", asks_with="fingerprint image", order=20, url_name="fingerprint-probe",
    description="Drop a fingerprint image: 1:N against every enrolled print you may see, calibrated scores and "
                "an explicit “no match”, the matched minutiae side by side; 1:1 verification against a subject "
                "is linked from there.",
))
