"""Fingerprints on the platform: subjects and enrolment, 1:N identification, 1:1 verification, per-item DPI,
ISO/IEC 19794-2 export and the fingerprint watchlist matcher.

The ``fingerprint`` plugin stores one finding per print (space ``fp_index``): the 1,800-d index code as the
vector and the minutiae (500 dpi coordinates), quality and DPI in ``data``. Identification is two-stage:

1. candidates: ``search.search_similar`` on the active ``fp_index`` space — cosine top-``k`` among prints of
   cases the user may see (visibility in the SQL), restricted to enrolled prints unless ``scope="all"`` — and on
   the ``fp_window`` space of the same model version (each print's contact-sized parts, for partial probes);
   a print's candidate similarity is the best of its full code and its windows, the top ``k`` prints go on;
2. re-ranking: MCC (``plugins.fingerprint.matching.match_many``) on the candidates' minutiae; the best score
   is reported as a match only at or above ``IDENTIFY_THRESHOLD``, else as an explicit "no match".

Scores shown to users are ``calibrated_score`` (P(same finger | score) at equal priors, 0..1; synthetic
calibration, see the plugin's README) next to the raw MCC score.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from retrieval import media_io, storage
from retrieval.models import (
    Case,
    Enrolment,
    Finding,
    FingerPosition,
    MediaItem,
    MediaKind,
    PluginConfiguration,
    Subject,
    Watchlist,
    WatchlistEntry,
    WatchlistKind,
)
from retrieval.models.cases import WRITE_ROLES
from retrieval.plugin_api import Item
from retrieval.plugin_api import MediaKind as ItemKind
from retrieval.services import audit, jobs, probes, search
from retrieval.services.cases import require_role

PLUGIN = "fingerprint"
SPACE = "fp_index"
WINDOW_SPACE = "fp_window"
#: Window rows fetched per candidate print wanted (a print has up to five windows).
WINDOW_ROWS_PER_CANDIDATE = 5
#: Candidates fetched from pgvector and re-ranked with the minutiae matcher, ordered by ``matching.rank_score``
#: (MCC score plus 0.2 x the code cosine). Measured on the synthetic galleries of bench/fingerprint.py: ranked by
#: the MCC score alone, deeper lists lost rank-1 at 100,000 prints (200 candidates 96.84 % vs 100: 97.13 %);
#: with the code's vote they gain (validation set, 100,000 prints: 100 / 500 / 1,000 candidates 96.71 / 97.14 /
#: 97.42 %). 1,000 would cost about 0.85 s of matching per query on one core of the 2-core VM, past the 1 s
#: budget with the candidate stage; 500 cost 0.37-0.42 s (p50-p95).
RERANK_DEPTH = 500
#: Re-ranked candidates shown (with their matched minutiae pairs).
SHOWN = 10
#: Enrolment refuses prints below this NFIQ2-style quality (0-100) or with fewer minutiae (settings override).
ENROL_MIN_QUALITY = 20
ENROL_MIN_MINUTIAE = 12
DPI_RANGE = (100.0, 4000.0)
DISPLAY_MAX_SIDE = 1600


def enrol_min_quality() -> int:
    return int(getattr(settings, "MMSEC_FP_ENROL_MIN_QUALITY", ENROL_MIN_QUALITY))


def enrol_min_minutiae() -> int:
    return int(getattr(settings, "MMSEC_FP_ENROL_MIN_MINUTIAE", ENROL_MIN_MINUTIAE))


def _matching() -> Any:
    """The plugin's pure-numpy matcher (imported lazily: numpy work stays out of import time)."""
    from plugins.fingerprint import matching

    return matching


def identify_threshold() -> float:
    return float(_matching().IDENTIFY_THRESHOLD)


def match_threshold() -> float:
    return float(_matching().MATCH_THRESHOLD)


def calibrated(score: float) -> float:
    return float(_matching().calibrated_score(score))


def watchlist_default_threshold() -> float:
    """Calibrated value of the 1:N operating point, rounded down (a watchlist search is a small 1:N search)."""
    from plugins.fingerprint.matching import CAL_A, CAL_B, IDENTIFY_THRESHOLD

    p = 1.0 / (1.0 + np.exp(-(CAL_A * IDENTIFY_THRESHOLD + CAL_B)))
    return float(np.floor(p * 1e4) / 1e4)


# --------------------------------------------------------------------------- prints


def _print_qs() -> Any:
    return Finding.objects.filter(plugin=PLUGIN, label="fingerprint").exclude(vector=None)


def print_findings(media_ids: list[int] | set[int]) -> dict[int, Finding]:
    """The current print finding of each media item: the active space's, else the newest of any version."""
    active = search.active_space(PLUGIN, SPACE)
    out: dict[int, Finding] = {}
    for f in _print_qs().filter(media_id__in=list(media_ids)).order_by("media_id", "-created_at", "-id"):
        current = out.get(f.media_id)
        if current is None or (active is not None and f.space_id == active.pk and current.space_id != active.pk):
            out[f.media_id] = f
    return out


def print_finding(media: MediaItem) -> Finding | None:
    return print_findings([media.pk]).get(media.pk)


def print_media(case_ids: list[int]) -> Any:
    """Media items of these cases that have a processed print, newest first."""
    return MediaItem.objects.filter(case_id__in=case_ids, pk__in=_print_qs().values("media_id")).order_by(
        "-uploaded_at", "-id")


def job_state(media: MediaItem) -> Any:
    """The newest fingerprint processing job of the item (state and error), or None."""
    return media.jobs.filter(step__startswith=f"plugin:{PLUGIN}@").order_by("-updated_at").first()


@dataclass(frozen=True)
class Minutia:
    index: int
    x: float  # original-image pixels
    y: float
    x2: float  # end of the direction tick
    y2: float
    kind: str  # "ending" / "bifurcation"
    quality: float
    color: str


@dataclass(frozen=True)
class PrintView:
    """A print ready to draw: an SVG viewBox in original pixels, minutiae and the ridge-area box.

    ``media`` is None for a probe image that is not evidence; ``image_uri`` then holds its picture inline.
    """

    media: MediaItem | None
    finding: Finding
    width: int
    height: int
    scale: float  # original pixels per 500 dpi pixel
    minutiae: list[Minutia]
    box: list[float] | None
    quality: float
    dpi: float
    dpi_source: str
    dpi_note: str
    area_mm2: float | None
    image_uri: str = ""
    probe_name: str = ""

    @property
    def name(self) -> str:
        return self.media.original_name if self.media is not None else self.probe_name or "probe print"

    @property
    def quality_band(self) -> str:
        return "good" if self.quality >= 60 else "fair" if self.quality >= 35 else "poor"

    @property
    def box_rect(self) -> tuple[float, float, float, float] | None:
        """The ridge-area box as (x, y, width, height) for SVG."""
        if not self.box or len(self.box) != 4:
            return None
        x1, y1, x2, y2 = (float(v) for v in self.box)
        return (x1, y1, max(0.0, x2 - x1), max(0.0, y2 - y1))

    @property
    def radius(self) -> float:
        return max(3.0, 5.0 * self.scale)


def _quality_color(q: float) -> str:
    return "#16a34a" if q >= 0.5 else "#d97706" if q >= 0.25 else "#dc2626"


def print_view(media: MediaItem | None, finding: Finding, *, image_uri: str = "", probe_name: str = "") -> PrintView:
    data = finding.data or {}
    dpi = float(data.get("dpi") or 500.0)
    scale = dpi / 500.0
    mw, mh = (media.width or 0, media.height or 0) if media is not None else (0, 0)
    size = data.get("size") or [mw, mh]
    width = int(round(float(size[0]) * scale)) or int(mw or 1)
    height = int(round(float(size[1]) * scale)) or int(mh or 1)
    tick = max(6.0, 12.0 * scale)
    rows = []
    for i, row in enumerate(data.get("minutiae") or []):
        x, y, theta, kind, q = (float(v) for v in row[:5])
        t = np.radians(theta)
        px, py = x * scale, y * scale
        rows.append(Minutia(i, round(px, 1), round(py, 1), round(px + float(np.cos(t)) * tick, 1),
                            round(py - float(np.sin(t)) * tick, 1), "bifurcation" if int(kind) == 1 else "ending",
                            q, _quality_color(q)))
    return PrintView(media=media, finding=finding, width=width, height=height, scale=scale, minutiae=rows,
                     box=finding.box, quality=float(data.get("quality") or finding.score or 0),
                     dpi=dpi, dpi_source=str(data.get("dpi_source") or ""), dpi_note=str(data.get("dpi_note") or ""),
                     area_mm2=data.get("area_mm2"), image_uri=image_uri, probe_name=probe_name)


def display_png(media: MediaItem) -> bytes:
    """The print as a PNG any browser shows (TIFF, 16-bit and CMYK scans included), cached with derived files."""
    dest = storage.derived_dir(media.pk) / f"fingerprint-{media.sha256[:16]}.png"
    if not dest.exists():
        rgb = media_io.read_image(storage.object_path(media.sha256), max_side=DISPLAY_MAX_SIDE)
        tmp = dest.with_suffix(".part")
        tmp.write_bytes(media_io.encode_png(rgb))
        tmp.replace(dest)
    return dest.read_bytes()


# --------------------------------------------------------------------------- per-item DPI


def set_dpi(*, actor: Any, media: MediaItem, dpi: float | None, request: Any = None) -> tuple[MediaItem, bool]:
    """Store the investigator's DPI for an image (None clears it) and reprocess it with the fingerprint plugin.

    Returns the item and whether a fingerprint job was queued (not when the plugin is disabled)."""
    require_role(media.case, actor, WRITE_ROLES)
    if media.kind != MediaKind.IMAGE:
        raise ValidationError("a resolution can only be set on an image")
    if dpi is not None:
        dpi = float(dpi)
        if not DPI_RANGE[0] <= dpi <= DPI_RANGE[1]:
            raise ValidationError(f"DPI must be between {DPI_RANGE[0]:.0f} and {DPI_RANGE[1]:.0f}")
    with transaction.atomic():
        media = MediaItem.objects.select_for_update().get(pk=media.pk)
        previous = (media.metadata or {}).get("user_dpi")
        metadata = dict(media.metadata or {})
        if dpi is None:
            metadata.pop("user_dpi", None)
        else:
            metadata["user_dpi"] = dpi
        media.metadata = metadata
        media.save(update_fields=["metadata", "updated_at"])
        job = _reprocess(media)
        audit.record("fingerprint.set_dpi", actor=actor, target=media, case_id=media.case_id, request=request,
                     details={"from": previous, "to": dpi, "reprocess": job is not None})
    return media, job is not None


def _reprocess(media: MediaItem) -> Any:
    from retrieval.plugin_registry import get_registry
    from retrieval.services.plugins import step_name

    config = PluginConfiguration.objects.filter(name=PLUGIN, enabled=True, installed=True).first()
    cls = get_registry().get(PLUGIN)
    if config is None or cls is None:
        return None
    version = config.active_model_version or cls.model_version
    return jobs.schedule(media, step_name(PLUGIN, version), queue=config.effective_queue, reset=True)


# --------------------------------------------------------------------------- subjects and enrolment


def _clean_subject(name: str, reference: str) -> tuple[str, str]:
    name, reference = (name or "").strip()[:200], (reference or "").strip()[:100]
    if not name and not reference:
        raise ValidationError("a subject needs a name or a reference")
    return name, reference


def create_subject(*, actor: Any, case: Case, name: str = "", reference: str = "", notes: str = "",
                   request: Any = None) -> Subject:
    require_role(case, actor, WRITE_ROLES)
    name, reference = _clean_subject(name, reference)
    try:
        with transaction.atomic():
            subject = Subject.objects.create(case=case, name=name, reference=reference, notes=notes.strip(),
                                             created_by=actor)
    except IntegrityError as exc:
        raise ValidationError(f"reference {reference!r} is already used by another subject of this case") from exc
    audit.record("subject.create", actor=actor, target=subject, case_id=case.pk, request=request,
                 details={"name": name, "reference": reference})
    return subject


def update_subject(*, actor: Any, subject: Subject, request: Any = None, **fields: str) -> Subject:
    require_role(subject.case, actor, WRITE_ROLES)
    name, reference = _clean_subject(fields.get("name", subject.name), fields.get("reference", subject.reference))
    subject.name, subject.reference = name, reference
    if "notes" in fields:
        subject.notes = (fields["notes"] or "").strip()
    try:
        with transaction.atomic():
            subject.save()
    except IntegrityError as exc:
        raise ValidationError(f"reference {reference!r} is already used by another subject of this case") from exc
    audit.record("subject.update", actor=actor, target=subject, case_id=subject.case_id, request=request,
                 details={"name": name, "reference": reference})
    return subject


def delete_subject(*, actor: Any, subject: Subject, request: Any = None) -> None:
    require_role(subject.case, actor, WRITE_ROLES)
    audit.record("subject.delete", actor=actor, target=subject, case_id=subject.case_id, request=request,
                 details={"name": subject.display_name, "fingers": subject.enrolments.count()})
    WatchlistEntry.objects.filter(watchlist__kind=WatchlistKind.FINGERPRINT,
                                  data__subject_id=subject.pk).delete()
    subject.delete()


def enrol(*, actor: Any, subject: Subject, finger: int, media: MediaItem, request: Any = None) -> Enrolment:
    """Enrol ``media`` (a processed print of the subject's case) as ``finger``; poor prints are refused."""
    require_role(subject.case, actor, WRITE_ROLES)
    if finger not in FingerPosition.values:
        raise ValidationError("choose a finger (1-10: right thumb ... left little)")
    label = FingerPosition(finger).label
    if media.case_id != subject.case_id:
        raise ValidationError("the print must be evidence of the subject's case")
    finding = print_finding(media)
    if finding is None:
        job = job_state(media)
        why = f" ({job.error})" if job is not None and job.error else ""
        raise ValidationError(f"“{media.original_name}” has not been processed as a fingerprint{why}; "
                              "enable the fingerprint plugin or set its DPI and wait for processing")
    quality = int(round(float((finding.data or {}).get("quality") or finding.score or 0)))
    n_min = len((finding.data or {}).get("minutiae") or [])
    min_quality, min_minutiae = enrol_min_quality(), enrol_min_minutiae()
    if quality < min_quality:
        raise ValidationError(
            f"print quality {quality}/100 is below the enrolment minimum of {min_quality}: take or upload "
            f"a clearer impression of the {label.lower()} (a poor enrolment print causes missed identifications)")
    if n_min < min_minutiae:
        raise ValidationError(f"only {n_min} minutiae were found (at least {min_minutiae} are needed to "
                              "enrol): use a larger, clearer impression")
    existing = subject.enrolments.filter(finger=finger).first()
    if existing is not None:
        raise ValidationError(f"the {label.lower()} is already enrolled (“{existing.media.original_name}”); "
                              "remove it first to replace it")
    if subject.enrolments.filter(media=media).exists():
        raise ValidationError("this print is already enrolled as another finger of this subject")
    with transaction.atomic():
        enrolment = Enrolment.objects.create(subject=subject, finger=finger, media=media, quality=quality,
                                             minutiae=n_min, enrolled_by=actor)
        _sync_watchlist_entries(subject)
        audit.record("subject.enrol", actor=actor, target=subject, case_id=subject.case_id, request=request,
                     details={"finger": finger, "media_id": media.pk, "quality": quality, "minutiae": n_min})
    return enrolment


def unenrol(*, actor: Any, subject: Subject, finger: int, request: Any = None) -> None:
    require_role(subject.case, actor, WRITE_ROLES)
    enrolment = subject.enrolments.filter(finger=finger).first()
    if enrolment is None:
        raise ValidationError("that finger is not enrolled")
    with transaction.atomic():
        enrolment.delete()
        _sync_watchlist_entries(subject)
        audit.record("subject.unenrol", actor=actor, target=subject, case_id=subject.case_id, request=request,
                     details={"finger": finger, "media_id": enrolment.media_id})


def _sync_watchlist_entries(subject: Subject) -> None:
    """Watchlist entries of a subject list its enrolled prints as enrolment media (for display)."""
    media_ids = list(subject.enrolments.values_list("media_id", flat=True))
    for entry in WatchlistEntry.objects.filter(watchlist__kind=WatchlistKind.FINGERPRINT,
                                               data__subject_id=subject.pk):
        entry.media.set(media_ids)


def enrolled_media_ids(case_ids: list[int]) -> list[int]:
    return list(Enrolment.objects.filter(subject__case_id__in=case_ids).values_list("media_id", flat=True)
                .distinct())


def enrolments_by_media(media_ids: list[int], case_ids: list[int]) -> dict[int, list[Enrolment]]:
    out: dict[int, list[Enrolment]] = {}
    for e in (Enrolment.objects.filter(media_id__in=media_ids, subject__case_id__in=case_ids)
              .select_related("subject")):
        out.setdefault(e.media_id, []).append(e)
    return out


def watch_subject(*, actor: Any, watchlist: Watchlist, subject: Subject, request: Any = None) -> WatchlistEntry:
    """Put a subject on a fingerprint watchlist of the same case."""
    from retrieval.services import watchlists

    if watchlist.kind != WatchlistKind.FINGERPRINT:
        raise ValidationError("choose a fingerprint watchlist")
    if watchlist.case_id != subject.case_id:
        raise ValidationError("the watchlist must belong to the subject's case")
    require_role(watchlist.case, actor, WRITE_ROLES)
    if watchlist.entries.filter(data__subject_id=subject.pk).exists():
        raise ValidationError(f"{subject.display_name} is already on “{watchlist.name}”")
    return watchlists.add_entry(actor=actor, watchlist=watchlist, label=subject.display_name,
                                media_ids=subject.enrolments.values_list("media_id", flat=True),
                                data={"subject_id": subject.pk}, request=request)


# --------------------------------------------------------------------------- matching


@dataclass
class Pair:
    probe: Minutia
    other: Minutia


@dataclass
class Comparison:
    """One re-ranked gallery print."""

    finding: Finding
    media: MediaItem
    score: float
    calibrated: float
    similarity: float | None = None  # cosine of the index codes (candidate stage)
    enrolments: list[Enrolment] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    view: PrintView | None = None
    is_match: bool = False

    @property
    def rank_score(self) -> float:
        """What 1:N candidates are ordered by (``matching.rank_score``); the decision uses ``score`` alone."""
        return float(_matching().rank_score(self.score, self.similarity))


@dataclass
class _Outcome:
    """A probe compared with gallery prints, best first; a match when the best reaches the threshold."""

    probe: PrintView
    threshold: float
    comparisons: list[Comparison]

    @property
    def best(self) -> Comparison | None:
        return self.comparisons[0] if self.comparisons else None

    @property
    def decision(self) -> str:
        return "match" if self.best is not None and self.best.is_match else "no match"


@dataclass
class Identification(_Outcome):
    scope: str
    candidates: int  # re-ranked
    gallery: int  # prints the candidate stage searched
    path: str
    elapsed_ms: float


def _pairs(probe: PrintView, other: PrintView) -> tuple[float, list[Pair]]:
    score, idx = _matching().match_pairs(probe.finding.data, other.finding.data)
    pm, om = probe.minutiae, other.minutiae
    return score, [Pair(pm[i], om[j]) for i, j in idx if i < len(pm) and j < len(om)]


def require_print(media: MediaItem) -> Finding:
    finding = print_finding(media)
    if finding is None:
        job = job_state(media)
        why = f": {job.error}" if job is not None and job.error else ""
        raise ValidationError(f"“{media.original_name}” has no processed fingerprint{why}")
    return finding


def _check_scope(scope: str) -> None:
    if scope not in ("enrolled", "all"):
        raise ValidationError("scope is 'enrolled' (subjects' prints) or 'all' (every print you may see)")


@dataclass
class _Ranked:
    comparisons: list[Comparison]
    gallery: int
    path: str


def _rank(user: Any, space: Any, probe: Finding, *, scope: str, k: int | None,
          exclude_media_id: int | None = None, narrow: probes.ProbeFilters = probes.NO_FILTERS) -> _Ranked:
    """The 1:N core: candidates by the probe's index code among prints of visible cases (enrolled ones unless
    ``scope="all"``; never the probe's own item), re-ranked by the minutiae matcher, best first.

    ``probe`` is a stored print finding or an unsaved one built from a probe image (``probe_finding``); ``k``
    candidates are re-ranked (``None``: ``RERANK_DEPTH``).
    """
    visible = list(Case.objects.visible_to(user).values_list("id", flat=True))
    if space is None or probe.vector is None:
        return _Ranked([], 0, "empty")
    exclude = [exclude_media_id] if exclude_media_id is not None else []
    filters = narrow.search_filters(exclude_media_ids=exclude, labels=["fingerprint"],
                                    media_ids=enrolled_media_ids(visible) if scope == "enrolled" else None)
    gallery = _gallery_size(space, visible, exclude, narrow, filters)
    k = RERANK_DEPTH if k is None else k
    result = search.search_similar(user, space, probe.vector, k=k, filters=filters)
    best = _candidates(user, space, probe, result, k=k,
                       window_filters=narrow.search_filters(exclude_media_ids=exclude, media_ids=filters.media_ids))
    by_media_finding = {f.media_id: f for f in Finding.objects.filter(
        space=space, media_id__in=list(best), label="fingerprint", vector__isnull=False).select_related("media")}
    hits = [(m, sim) for m, sim in best.items() if m in by_media_finding]
    comparisons: list[Comparison] = []
    if hits:
        scores = _matching().match_many(probe.data, [by_media_finding[m].data for m, _ in hits])
        by_media = enrolments_by_media([m for m, _ in hits], visible)
        threshold = identify_threshold()
        for (m, sim), s in zip(hits, scores.tolist(), strict=True):
            f = by_media_finding[m]
            if calibrated(s) < narrow.min_score:
                continue
            comparisons.append(Comparison(finding=f, media=f.media, score=float(s), calibrated=calibrated(s),
                                          similarity=sim, enrolments=by_media.get(m, []), is_match=s >= threshold))
        comparisons.sort(key=lambda c: -c.rank_score)
    return _Ranked(comparisons, gallery, result.path)


def _gallery_size(space: Any, visible: list[int], exclude: list[int], narrow: probes.ProbeFilters,
                  filters: search.SearchFilters) -> int:
    """Prints the identification searches (exact: the search's own figure is a planning estimate)."""
    gallery_rows = Finding.objects.filter(space=space, case_id__in=narrow.case_ids or visible,
                                          label="fingerprint", vector__isnull=False).exclude(media_id__in=exclude)
    gallery_rows = gallery_rows.filter(case_id__in=visible)
    if narrow.uploaded_after:
        gallery_rows = gallery_rows.filter(media__uploaded_at__gte=narrow.uploaded_after)
    if narrow.uploaded_before:
        gallery_rows = gallery_rows.filter(media__uploaded_at__lt=narrow.uploaded_before)
    if filters.media_ids is not None:
        gallery_rows = gallery_rows.filter(media_id__in=filters.media_ids)
    return gallery_rows.count()


def _candidates(user: Any, space: Any, probe: Finding, result: search.SearchResult, *, k: int,
                window_filters: search.SearchFilters) -> dict[int, float]:
    """``{media_id: similarity}`` of the ``k`` most similar prints: the best of the full-code hit (``result``)
    and the window hits of the same model version (a partial probe resembles one part of its print best)."""
    best: dict[int, float] = {h.media_id: h.similarity for h in result.hits}
    windows = search.active_space(PLUGIN, WINDOW_SPACE)
    if windows is not None and windows.model_version == space.model_version:
        rows = min(search.MAX_K, k * WINDOW_ROWS_PER_CANDIDATE)
        for h in search.search_similar(user, windows, probe.vector, k=rows, filters=window_filters).hits:
            if h.similarity > best.get(h.media_id, -2.0):
                best[h.media_id] = h.similarity
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return dict(ranked)


def _identification(probe_view: PrintView, ranked: _Ranked, *, scope: str, shown: int, started: float
                    ) -> Identification:
    for c in ranked.comparisons[:shown]:
        c.view = print_view(c.media, c.finding)
        _, c.pairs = _pairs(probe_view, c.view)
    return Identification(probe=probe_view, scope=scope, threshold=identify_threshold(),
                          comparisons=ranked.comparisons[:shown], candidates=len(ranked.comparisons),
                          gallery=ranked.gallery, path=ranked.path, elapsed_ms=(time.monotonic() - started) * 1000)


def _identify_details(ident: Identification, scope: str) -> dict[str, Any]:
    best = ident.best
    return {"scope": scope, "decision": ident.decision, "candidates": ident.candidates,
            "best_score": round(best.score, 4) if best else None,
            "best_media_id": best.media.pk if best else None,
            "shown_media_ids": [c.media.pk for c in ident.comparisons]}


def identify(user: Any, media: MediaItem, *, scope: str = "enrolled", k: int | None = None, shown: int = SHOWN,
             request: Any = None) -> Identification:
    """1:N: candidates by the index code (visible cases only), re-ranked by the minutiae matcher."""
    started = time.monotonic()
    _check_scope(scope)
    probe = require_print(media)
    space = search.active_space(PLUGIN, SPACE)
    if space is not None and probe.space_id != space.pk:
        raise ValidationError("this print was processed by another model version than the one searched; "
                              "identify it again when its reprocessing has finished")
    ranked = _rank(user, space, probe, scope=scope, k=k, exclude_media_id=media.pk)
    ident = _identification(print_view(media, probe), ranked, scope=scope, shown=shown, started=started)
    audit.record("fingerprint.identify", actor=user, target=media, case_id=media.case_id, request=request,
                 details=_identify_details(ident, scope))
    return ident


# --------------------------------------------------------------------------- probe image (never stored)


def probe_finding(path: Path, dpi: float | None = None) -> Finding:
    """Run the fingerprint plugin (active model) on an image in this process; the print as an unsaved finding.

    Raises ``probes.ProbeError`` (a ``ValueError``) with the plugin's reason when it is not a usable print.
    """
    if dpi is not None and not DPI_RANGE[0] <= float(dpi) <= DPI_RANGE[1]:
        raise probes.ProbeError(f"DPI must be between {DPI_RANGE[0]:.0f} and {DPI_RANGE[1]:.0f}")
    found = [f for f in probes.run_plugin(PLUGIN, Item(media_id=0, kind=ItemKind.IMAGE, path=path,
                                                       dpi=float(dpi) if dpi is not None else None))
             if f.label == "fingerprint" and f.vector is not None]
    if not found:
        raise probes.ProbeError("no fingerprint was found in the image")
    f = found[0]
    box = list(f.region.box) if f.region is not None and f.region.box is not None else None
    return Finding(plugin=PLUGIN, label="fingerprint", score=f.score, data=dict(f.data),
                   vector=[float(x) for x in f.vector], box=box)


def probe_png_uri(path: Path) -> str:
    """The probe image as an inline ``data:`` PNG (decoded like evidence, at display size): shown, never stored."""
    png = media_io.encode_png(media_io.read_image(path, max_side=DISPLAY_MAX_SIDE))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass
class ProbeIdentification:
    """1:N of a probe image: the identification, or the reason there is none (``error``)."""

    sha256: str
    name: str
    result: Identification | None = None
    error: str = ""


def identify_probe(user: Any, path: Path, *, name: str = "", dpi: float | None = None, scope: str = "enrolled",
                   k: int | None = None, shown: int = SHOWN, request: Any = None,
                   filters: probes.ProbeFilters = probes.NO_FILTERS) -> ProbeIdentification:
    """1:N identification of an uploaded image that is not evidence (analysed here, never stored); audited."""
    started = time.monotonic()
    _check_scope(scope)
    digest = ""
    try:
        probes.check_file(path, {"image"}, "a fingerprint image")
        digest = probes.sha256_of(path)
        image_uri = probe_png_uri(path)  # decodes the image: a corrupt file fails here, before the plugin
        probe = probe_finding(path, dpi)
        view = print_view(None, probe, image_uri=image_uri, probe_name=name)
    except (ValueError, media_io.DecodeError) as exc:
        audit.record("fingerprint.probe_identify", actor=user, request=request,
                     details={"probe_sha256": digest or None, "scope": scope, "error": str(exc)[:300]})
        return ProbeIdentification(digest, name, error=str(exc))
    ranked = _rank(user, search.active_space(PLUGIN, SPACE), probe, scope=scope, k=k, narrow=filters)
    ident = _identification(view, ranked, scope=scope, shown=shown, started=started)
    audit.record("fingerprint.probe_identify", actor=user, request=request,
                 details={"probe_sha256": digest, "dpi": dpi, "minutiae": len(view.minutiae), "filters": filters.raw,
                          "quality": round(view.quality, 1), **_identify_details(ident, scope)})
    return ProbeIdentification(digest, name, ident)


@dataclass
class Verification(_Outcome):
    subject: Subject  # comparisons: one per compared finger


def verify(user: Any, media: MediaItem, subject: Subject, *, finger: int | None = None,
           request: Any = None) -> Verification:
    """1:1: the print against the subject's enrolled finger (or every enrolled finger when none is given)."""
    probe = require_print(media)
    enrolments = list(subject.enrolments.select_related("media", "subject"))
    if finger:
        enrolments = [e for e in enrolments if e.finger == finger]
        if not enrolments:
            raise ValidationError(f"{subject.display_name} has no enrolled {FingerPosition(finger).label.lower()}")
    if not enrolments:
        raise ValidationError(f"{subject.display_name} has no enrolled fingers yet")
    prints = print_findings([e.media_id for e in enrolments])
    probe_view = print_view(media, probe)
    threshold = match_threshold()
    comparisons = []
    for e in enrolments:
        f = prints.get(e.media_id)
        if f is None or e.media_id == media.pk:
            continue
        view = print_view(e.media, f)
        score, pairs = _pairs(probe_view, view)
        comparisons.append(Comparison(finding=f, media=e.media, score=score, calibrated=calibrated(score),
                                      enrolments=[e], pairs=pairs, view=view, is_match=score >= threshold))
    comparisons.sort(key=lambda c: -c.score)
    ver = Verification(probe=probe_view, subject=subject, threshold=threshold, comparisons=comparisons)
    audit.record("fingerprint.verify", actor=user, target=media, case_id=media.case_id, request=request,
                 details={"subject_id": subject.pk, "subject_case_id": subject.case_id, "finger": finger,
                          "decision": ver.decision, "best_score": round(ver.best.score, 4) if ver.best else None})
    return ver


# --------------------------------------------------------------------------- ISO/IEC 19794-2 export


def iso_template(user: Any, media: MediaItem, *, request: Any = None) -> tuple[bytes, str]:
    """The print's ISO/IEC 19794-2:2005 record (finger position from its enrolment, else 0) and a file name."""
    from plugins.fingerprint.template import as_template, to_iso19794_2

    finding = require_print(media)
    enrolment = Enrolment.objects.filter(media=media).order_by("id").first()
    position = enrolment.finger if enrolment else 0
    record = to_iso19794_2(as_template(finding.data), finger_position=position)
    audit.record("fingerprint.template_export", actor=user, target=media, case_id=media.case_id, request=request,
                 details={"format": "ISO/IEC 19794-2:2005", "finger_position": position, "bytes": len(record),
                          "minutiae": len((finding.data or {}).get("minutiae") or [])})
    stem = media.original_name.rsplit(".", 1)[0][:80] or f"print-{media.pk}"
    return record, f"{stem}.iso-19794-2.fmr"


# --------------------------------------------------------------------------- watchlists


@dataclass(frozen=True)
class _Listed:
    """One gallery print of a fingerprint watchlist entry."""

    entry: WatchlistEntry
    who: str
    finger: int | None
    media_id: int
    finding: Finding

    @property
    def finger_name(self) -> str:
        return FingerPosition(self.finger).label if self.finger else "print"


def _watchlist_gallery(watchlist: Watchlist, media: MediaItem) -> list[_Listed]:
    """Enrolled prints of the listed subjects (of the watchlist's own case only: an entry cannot point into
    another case); entries without a subject use their enrolment media (also of the watchlist's case)."""
    entries: dict[int, WatchlistEntry] = {}
    plain: list[WatchlistEntry] = []
    for entry in watchlist.entries.prefetch_related("media"):
        try:
            entries[int((entry.data or {}).get("subject_id"))] = entry
        except (TypeError, ValueError):
            plain.append(entry)
    enrolments = list(Enrolment.objects.filter(subject_id__in=list(entries), subject__case_id=watchlist.case_id)
                      .exclude(media=media).select_related("subject"))
    loose = [(e, m) for e in plain for m in e.media.all() if m.case_id == watchlist.case_id and m.pk != media.pk]
    prints = print_findings([e.media_id for e in enrolments] + [m.pk for _, m in loose])
    gallery = [_Listed(entries[e.subject_id], e.subject.display_name, e.finger, e.media_id, prints[e.media_id])
               for e in enrolments if e.media_id in prints]
    gallery += [_Listed(e, e.label, None, m.pk, prints[m.pk]) for e, m in loose if m.pk in prints]
    return gallery


def match_watchlist(watchlist: Watchlist, media: MediaItem, findings: list[Finding]) -> list[Any]:
    """Fingerprint watchlist matcher: each new print against the listed subjects' enrolled prints.

    The best print per entry gives one ``Match`` with the calibrated score; the core applies the threshold.
    """
    from retrieval.services.watchlists import Match

    probes = [f for f in findings if f.label == "fingerprint" and (f.data or {}).get("minutiae")]
    gallery = _watchlist_gallery(watchlist, media) if probes else []
    if not gallery:
        return []
    if len(gallery) > RERANK_DEPTH:  # large watchlist: candidate stage on the index codes, as in 1:N
        codes = np.asarray([np.asarray(g.finding.vector, dtype=np.float32) for g in gallery])
        keep = set()
        for probe in probes:
            sims = codes @ np.asarray(probe.vector, dtype=np.float32)
            keep.update(np.argsort(-sims)[:RERANK_DEPTH].tolist())
        gallery = [gallery[i] for i in sorted(keep)]
    matches = []
    for probe in probes:
        scores = _matching().match_many(probe.data, [g.finding.data for g in gallery])
        best: dict[int, tuple[float, _Listed]] = {}
        for g, s in zip(gallery, scores.tolist(), strict=True):
            if s > best.get(g.entry.pk, (-1.0, g))[0]:
                best[g.entry.pk] = (float(s), g)
        for s, g in best.values():
            subject_id = (g.entry.data or {}).get("subject_id")
            matches.append(Match(
                entry=g.entry, score=calibrated(s),
                summary=f"Fingerprint of {g.who} ({g.finger_name.lower()}), MCC score {s:.3f}",
                dedup_key=f"fp:{g.entry.pk}:{probe.key}", finding=probe, box=probe.box,
                details={"subject_id": subject_id, "subject": g.who, "finger": g.finger,
                         "finger_name": g.finger_name, "raw_score": round(s, 4), "enrolled_media_id": g.media_id,
                         "threshold_raw": identify_threshold()},
            ))
    return matches


# --------------------------------------------------------------------------- drawing


@dataclass(frozen=True)
class SideBySide:
    """Two prints scaled to one height in one SVG, with a line per matched minutia pair."""

    width: float
    height: float
    left_scale: float
    right_scale: float
    right_x: float
    lines: list[tuple[float, float, float, float]]


def side_by_side(left: PrintView, right: PrintView, pairs: list[Pair], height: float = 420.0,
                 gap: float = 24.0) -> SideBySide:
    ls, rs = height / max(1, left.height), height / max(1, right.height)
    right_x = left.width * ls + gap
    lines = [(round(p.probe.x * ls, 1), round(p.probe.y * ls, 1), round(right_x + p.other.x * rs, 1),
              round(p.other.y * rs, 1)) for p in pairs]
    return SideBySide(width=round(right_x + right.width * rs, 1), height=height, left_scale=ls, right_scale=rs,
                      right_x=round(right_x, 1), lines=lines)
