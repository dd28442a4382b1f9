"""Audio events (plugin ``audio_events``): event search, "sounds like this one", media-page data, spectrograms.

The plugin stores, per media item, one finding per event (``label`` = security key such as ``gunshot``
or an AudioSet display name, ``score`` = peak confidence, ``start_s``/``end_s``, ``data.audioset_class``,
``data.plain_name``), one 1024-d vector per 0.96 s segment in the space ``yamnet``, and one
``framewise`` summary. Everything here starts from ``Case.objects.visible_to(user)``.
"""

from __future__ import annotations

import csv
import fcntl
import functools
import math
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.utils import timezone

from plugins.audio_events.labels import LABELS_BY_KEY, SECURITY_LABELS
from retrieval import media_io, storage
from retrieval.models import Case, Finding, MediaItem, PluginConfiguration
from retrieval.services import audit, search

PLUGIN = "audio_events"
SPACE = "yamnet"
TRACK = "Audio events"
FRAMEWISE = "framewise"
PAGE_SIZE = 50

#: One colour per security label (spectrogram bars, timeline, legend); other AudioSet classes are grey.
COLORS: dict[str, str] = {
    "gunshot": "#dc2626", "explosion": "#b91c1c", "fireworks": "#f97316", "glass_breaking": "#0891b2",
    "siren": "#2563eb", "alarm": "#7c3aed", "scream": "#db2777", "crying": "#c026d3", "dog": "#a16207",
    "crash": "#ea580c", "vehicle": "#4b5563", "speech": "#16a34a", "music": "#0d9488",
}
OTHER_COLOR = "#64748b"


# ------------------------------------------------------------------------------------------ labels


def color_of(label: str) -> str:
    return COLORS.get(label, OTHER_COLOR)


def plain_name(label: str, data: Mapping[str, Any] | None = None) -> str:
    if label == FRAMEWISE:  # the summary finding spans the recording: "sounds like this" on it = the whole clip
        return "The whole recording"
    security = LABELS_BY_KEY.get(label)
    if security:
        return security.plain_name
    return str((data or {}).get("plain_name") or label)


def security_choices() -> list[tuple[str, str]]:
    """``(key, plain name)`` of the security label set, in display order."""
    return [(label.key, label.plain_name) for label in SECURITY_LABELS]


@functools.lru_cache(maxsize=4)
def _class_names_at(path: str) -> tuple[str, ...]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return tuple(row[2].strip() for row in list(csv.reader(fh))[1:] if len(row) >= 3)
    except OSError:
        return ()


def audioset_classes() -> list[str]:
    """YAMNet's 521 AudioSet display names (from the installed class map; empty when not installed)."""
    return list(_class_names_at(str(Path(settings.MMSEC_MODEL_DIR) / PLUGIN / "yamnet_class_map.csv")))


def resolve_types(values: Iterable[str]) -> list[str]:
    """Normalise what a user typed: a security key or plain name -> key; an AudioSet class in any case ->
    its display name. Unknown text is kept (an extra class a deployment detects may still match)."""
    by_plain = {label.plain_name.lower(): label.key for label in SECURITY_LABELS}
    by_class = {name.lower(): name for name in audioset_classes()}
    out: list[str] = []
    for raw in values:
        for part in str(raw).split(";"):
            text = part.strip()
            if not text:
                continue
            low = text.lower()
            resolved = low if low in LABELS_BY_KEY else by_plain.get(low) or by_class.get(low) or text
            if resolved not in out:
                out.append(resolved)
    return out


# ------------------------------------------------------------------------------------------ event search


@dataclass(frozen=True)
class EventFilters:
    types: list[str] = field(default_factory=list)  # security keys and/or AudioSet display names
    case_ids: list[int] | None = None  # None = every visible case
    uploaded_from: date | None = None  # inclusive
    uploaded_to: date | None = None  # inclusive (the whole day)
    min_score: float = 0.0
    media_kinds: list[str] = field(default_factory=list)
    sort: str = "time"  # "time" (newest upload first, then time in the file) or "score"

    def as_details(self) -> dict[str, Any]:
        return {"types": self.types, "cases": self.case_ids, "from": str(self.uploaded_from or ""),
                "to": str(self.uploaded_to or ""), "min_score": self.min_score, "kinds": self.media_kinds,
                "sort": self.sort}


def _date(value: str, name: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name}: give a date as YYYY-MM-DD") from exc


def parse_filters(query: Any) -> EventFilters:
    """Filters from a query dict (``type``, ``case``, ``from``, ``to``, ``min_score``, ``kind``, ``sort``;
    repeated keys allowed). Raises ``ValueError`` with a message a user can act on."""
    getlist = query.getlist if hasattr(query, "getlist") else lambda k: [query[k]] if k in query else []
    types = resolve_types(getlist("type"))
    case_ids: list[int] | None = None
    raw_cases = [c for c in getlist("case") if str(c).strip()]
    if raw_cases:
        if not all(str(c).strip().isdigit() for c in raw_cases):
            raise ValueError("case: give case ids")
        case_ids = sorted({int(c) for c in raw_cases})
    try:
        min_score = float(query.get("min_score") or 0.0)
    except (TypeError, ValueError) as exc:
        raise ValueError("min_score: give a number between 0 and 1") from exc
    if not 0.0 <= min_score <= 1.0 or math.isnan(min_score):
        raise ValueError("min_score: give a number between 0 and 1")
    kinds = [k for k in getlist("kind") if k]
    if any(k not in ("audio", "video") for k in kinds):
        raise ValueError("kind: audio or video")
    sort = query.get("sort") or "time"
    if sort not in ("time", "score"):
        raise ValueError("sort: time or score")
    start, end = _date(query.get("from", ""), "from"), _date(query.get("to", ""), "to")
    if start and end and end < start:
        raise ValueError("the 'to' date is before the 'from' date")
    return EventFilters(types=types, case_ids=case_ids, uploaded_from=start, uploaded_to=end, min_score=min_score,
                        media_kinds=kinds, sort=sort)


def _active_versions() -> list[str]:
    config = PluginConfiguration.objects.filter(name=PLUGIN).only("active_model_version").first()
    return [config.active_model_version] if config and config.active_model_version else []


def event_queryset(user: Any, filters: EventFilters) -> QuerySet[Finding]:
    """Events (not segment vectors, not the framewise summary) in the visible cases matching ``filters``."""
    visible = Case.objects.visible_to(user).values("id")
    qs = Finding.objects.filter(plugin=PLUGIN, case_id__in=visible, space__isnull=True, start_s__isnull=False)
    qs = qs.exclude(label=FRAMEWISE)
    versions = _active_versions()
    if versions:
        qs = qs.filter(model_version__in=versions)
    if filters.types:
        qs = qs.filter(Q(label__in=filters.types) | Q(data__audioset_class__in=filters.types))
    if filters.case_ids is not None:
        qs = qs.filter(case_id__in=filters.case_ids)
    if filters.uploaded_from:
        qs = qs.filter(media__uploaded_at__gte=_day_start(filters.uploaded_from))
    if filters.uploaded_to:
        qs = qs.filter(media__uploaded_at__lt=_day_start(filters.uploaded_to + timedelta(days=1)))
    if filters.min_score > 0:
        qs = qs.filter(score__gte=filters.min_score)
    if filters.media_kinds:
        qs = qs.filter(media_kind__in=filters.media_kinds)
    order = ["-score", "-media__uploaded_at", "start_s", "id"] if filters.sort == "score" else [
        "-media__uploaded_at", "-media_id", "start_s", "id"]
    return qs.select_related("media", "media__case").order_by(*order)


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def event_row(finding: Finding) -> dict[str, Any]:
    """What a page or the API shows of one event."""
    data = finding.data or {}
    score = float(finding.score or 0.0)
    return {
        "id": finding.pk, "media_id": finding.media_id, "media_name": finding.media.original_name,
        "media_kind": finding.media_kind, "case_id": finding.case_id, "case_title": finding.media.case.title,
        "label": finding.label, "plain_name": plain_name(finding.label, data),
        "audioset_class": data.get("audioset_class") or "", "security": finding.label in LABELS_BY_KEY,
        "start_s": finding.start_s, "end_s": finding.end_s, "score": round(score, 4),
        "pct": max(0, min(100, round(score * 100))), "color": color_of(finding.label),
        "href": media_href(finding.media_id, finding.start_s), "uploaded_at": finding.media.uploaded_at,
        "clock": f"{clock(finding.start_s)}–{clock(finding.end_s)}",
    }


def clock(seconds: float | None) -> str:
    """``m:ss.s`` (``h:mm:ss`` past an hour) for lists of events."""
    if seconds is None:
        return ""
    seconds = max(0.0, float(seconds))
    if seconds >= 3600:
        s = int(seconds)
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


def media_href(media_id: int, start_s: float | None) -> str:
    return f"/media/{int(media_id)}/" + (f"?t={round(start_s, 2):g}" if start_s is not None else "")


def search_events(user: Any, filters: EventFilters, page_number: Any = 1, page_size: int = PAGE_SIZE,
                  request: Any = None) -> Page:
    """One page of matching events (rows from ``event_row``); the search is audited.

    The page is chosen on ids alone (the sort then moves narrow rows: at 100,000 events this halves the
    query), and only its rows are loaded with their media and case.
    """
    page = Paginator(event_queryset(user, filters).values_list("id", flat=True), page_size).get_page(page_number)
    ids = list(page.object_list)
    rows = Finding.objects.select_related("media", "media__case").in_bulk(ids)
    page.object_list = [event_row(rows[i]) for i in ids if i in rows]
    audit.record("audio_events.search", actor=user, request=request,
                 details={**filters.as_details(), "total": page.paginator.count, "page": page.number})
    return page


def visible_event(user: Any, finding_id: int) -> Finding:
    """An event or segment of the plugin in a case ``user`` may see (``Finding.DoesNotExist`` otherwise)."""
    visible = Case.objects.visible_to(user).values("id")
    return Finding.objects.select_related("media", "media__case", "space").get(
        pk=finding_id, plugin=PLUGIN, case_id__in=visible)


# ------------------------------------------------------------------------------------------ sounds like this


@dataclass
class SimilarSounds:
    query: dict[str, Any]
    segments: int  # how many segment vectors of the query event were averaged
    hits: list[dict[str, Any]]
    path: str
    note: str = ""


def _query_vector(event: Finding) -> tuple[np.ndarray | None, list[int]]:
    """Mean of the (unit) segment vectors overlapping the event; the nearest segment if none overlaps."""
    if event.vector is not None:
        return np.asarray(event.vector, dtype=np.float32), [event.pk]
    segments = Finding.objects.filter(media_id=event.media_id, plugin=PLUGIN, model_version=event.model_version,
                                      space__name=SPACE, vector__isnull=False)
    start, end = float(event.start_s or 0.0), float(event.end_s or event.start_s or 0.0)
    rows = list(segments.filter(start_s__lt=max(end, start + 0.01), end_s__gt=start).values_list("id", "vector"))
    if not rows:
        nearest = sorted(segments.values_list("id", "vector", "start_s"), key=lambda r: abs((r[2] or 0) - start))[:1]
        rows = [(r[0], r[1]) for r in nearest]
    if not rows:
        return None, []
    vectors = np.stack([np.asarray(v, dtype=np.float32) for _, v in rows])
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    mean = vectors.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12), [r[0] for r in rows]


def events_overlapping(media_ids: Iterable[int], versions: Iterable[str] | None = None) -> dict[int, list[Finding]]:
    qs = Finding.objects.filter(media_id__in=list(media_ids), plugin=PLUGIN, space__isnull=True,
                                start_s__isnull=False).exclude(label=FRAMEWISE)
    if versions:
        qs = qs.filter(model_version__in=list(versions))
    out: dict[int, list[Finding]] = {}
    for f in qs.order_by("start_s"):
        out.setdefault(f.media_id, []).append(f)
    return out


#: Below this cosine similarity a segment is rarely the same kind of sound (unrelated YAMNet segments score
#: 0.1-0.3 on the dev corpus); the page hides them unless asked.
DEFAULT_MIN_SIMILARITY = 0.5


def _merge_runs(hits: list[search.Hit]) -> list[list[search.Hit]]:
    """Contiguous segments of one recording become one run (a 4 s siren is one result, not four)."""
    runs: list[list[search.Hit]] = []
    for h in sorted(hits, key=lambda h: (h.media_id, h.start_s or 0.0)):
        last = runs[-1][-1] if runs else None
        if last is not None and last.media_id == h.media_id and (h.start_s or 0.0) <= (last.end_s or 0.0) + 0.05:
            runs[-1].append(h)
        else:
            runs.append([h])
    return sorted(runs, key=lambda run: -max(h.similarity for h in run))


def event_chip(e: Finding) -> dict[str, Any]:
    return {"label": e.label, "plain_name": plain_name(e.label, e.data), "color": color_of(e.label),
            "score": round(float(e.score or 0), 3)}


def hit_rows(hits: list[search.Hit], model_version: str, query_media_id: int | None = None) -> list[dict[str, Any]]:
    """Segment hits as result rows, best first: contiguous segments of a recording merged into one row with its
    media, time span (link to the player at the start), best similarity and the events stored there."""
    media = {m.pk: m for m in MediaItem.objects.filter(pk__in={h.media_id for h in hits}).select_related("case")}
    events = events_overlapping(media, [model_version])
    rows = []
    for run in _merge_runs(hits):
        m = media.get(run[0].media_id)
        if m is None:
            continue
        start, end = run[0].start_s or 0.0, run[-1].end_s or 0.0
        best = max(run, key=lambda h: h.similarity)
        there = [e for e in events.get(m.pk, []) if (e.start_s or 0) < end and (e.end_s or e.start_s or 0) > start]
        rows.append({
            "finding_id": best.finding_id, "media_id": m.pk, "media_name": m.original_name, "media_kind": m.kind,
            "case_id": m.case_id, "case_title": m.case.title, "start_s": start, "end_s": end,
            "segments": len(run), "similarity": round(best.similarity, 4),
            "pct": max(0, min(100, round(best.similarity * 100))),
            "href": media_href(m.pk, start), "same_media": m.pk == query_media_id,
            "clock": f"{clock(start)}–{clock(end)}",
            "events": [event_chip(e) for e in there],
        })
    return rows


def similar_sounds(user: Any, finding_id: int, k: int = 20, case_ids: list[int] | None = None,
                   media_kinds: list[str] | None = None, min_similarity: float = 0.0,
                   request: Any = None) -> SimilarSounds:
    """Places across the visible cases that sound like the event (or segment) ``finding_id``.

    The ``k`` nearest 0.96 s segments (the query's own segments excluded) at or above ``min_similarity``,
    contiguous ones of a recording merged into one hit (its best similarity). Raises ``Finding.DoesNotExist``
    when the finding is not the plugin's or not in a visible case.
    """
    event = visible_event(user, finding_id)
    query = event_row(event)
    k = max(1, min(int(k), 200))
    vector, used = _query_vector(event)
    space = search.active_space(PLUGIN, SPACE)
    if vector is None or space is None:
        note = "this recording has no sound vectors (silent, or processed without them)" if vector is None else \
            "no active audio-event vector space yet"
        return SimilarSounds(query, 0, [], "empty", note)
    result = search.search_similar(user, space, vector, k=k + len(used), filters=search.SearchFilters(
        case_ids=case_ids, media_kinds=media_kinds or None))
    hits = [h for h in result.hits if h.finding_id not in set(used) and h.similarity >= min_similarity][:k]
    rows = hit_rows(hits, space.model_version, query_media_id=event.media_id)
    audit.record("audio_events.similar", actor=user, target=event.media, case_id=event.case_id, request=request,
                 details={"finding": event.pk, "k": k, "hits": len(rows), "path": result.path,
                          "cases": case_ids, "kinds": media_kinds or [], "min_similarity": min_similarity})
    note = "" if rows else (f"Nothing in the cases you can see sounds like this (similarity at least "
                            f"{min_similarity:g})." if min_similarity > 0 else "")
    return SimilarSounds(query, len(used), rows, result.path, note)


# ------------------------------------------------------------------------------------------ media page


def media_events(media: MediaItem) -> list[Finding]:
    """The item's events from the active model version (or the newest version it has, when none is active)."""
    qs = Finding.objects.filter(media=media, plugin=PLUGIN, space__isnull=True, start_s__isnull=False)
    qs = qs.exclude(label=FRAMEWISE)
    versions = _active_versions()
    if versions and qs.filter(model_version__in=versions).exists():
        qs = qs.filter(model_version__in=versions)
    else:
        latest = qs.order_by("-created_at").values_list("model_version", flat=True).first()
        qs = qs.filter(model_version=latest) if latest else qs.none()
    return list(qs.order_by("start_s", "id")[:2000])


def has_analysis(media: MediaItem) -> bool:
    return Finding.objects.filter(media=media, plugin=PLUGIN).exists()


def panel_context(media: MediaItem) -> dict[str, Any] | None:
    """Spectrogram, one lane of coloured bars per label and the event list; None when not analysed."""
    if media.kind not in ("audio", "video") or not has_analysis(media):
        return None
    events = media_events(media)
    duration = float(media.duration_s or max([float(e.end_s or e.start_s or 0) for e in events] or [1.0])) or 1.0
    rows = []
    lanes: dict[str, dict[str, Any]] = {}
    for e in events:
        row = {
            "id": e.pk, "label": e.label, "plain_name": plain_name(e.label, e.data),
            "audioset_class": (e.data or {}).get("audioset_class") or "", "start_s": e.start_s,
            "end_s": e.end_s, "score": float(e.score or 0.0), "color": color_of(e.label),
            "clock": f"{clock(e.start_s)}–{clock(e.end_s)}",
            "left": round(100 * min(float(e.start_s or 0), duration) / duration, 3),
            "width": round(max(0.4, 100 * max(0.0, float(e.end_s or e.start_s or 0) - float(e.start_s or 0))
                               / duration), 3),
        }
        rows.append(row)
        lanes.setdefault(e.label, {"label": e.label, "plain_name": row["plain_name"], "color": row["color"],
                                   "short_name": row["plain_name"].split(" (")[0],
                                   "bars": []})["bars"].append(row)
    whole = Finding.objects.filter(media=media, plugin=PLUGIN, label=FRAMEWISE).order_by("-created_at").first()
    return {"media": media, "events": rows, "lanes": list(lanes.values()), "duration": duration,
            "spectrogram": f"/media/{media.pk}/spectrogram.png", "whole_id": whole.pk if whole else None}


def timeline_segments(media: MediaItem) -> list[dict[str, Any]]:
    return [{"start_s": float(e.start_s or 0), "end_s": float(max(e.end_s or 0, e.start_s or 0)),
             "label": plain_name(e.label, e.data), "score": e.score, "color": color_of(e.label),
             "href": f"/audio-events/{e.pk}/similar/"} for e in media_events(media)]


# ------------------------------------------------------------------------------------------ spectrogram

SPEC_SR = 16_000
SPEC_NFFT = 512
SPEC_MELS = 80
SPEC_MAX_COLUMNS = 2400  # at most this many time columns, whatever the length (bounded work and memory)
SPEC_HEIGHT = 160
SPEC_VERSION = 2  # 2: recordings that decode short of their declared duration keep the time axis
NO_AUDIO_RGB = (100, 116, 139)
#: perceptual dark-to-bright colour ramp (magma-like) used for the dB scale
_RAMP = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21],
                  [250, 193, 39], [252, 255, 164]], dtype=np.float32)


def spectrogram_path(media: MediaItem) -> Path:
    return storage.derived_dir(media.pk) / f"spectrogram-v{SPEC_VERSION}.png"


@functools.lru_cache(maxsize=1)
def _mel_matrix() -> np.ndarray:
    """(n_fft/2+1, mels) HTK mel triangles, 20 Hz - 8 kHz."""
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    freqs = np.linspace(0, SPEC_SR / 2, SPEC_NFFT // 2 + 1)
    edges = 700.0 * (10 ** (np.linspace(hz_to_mel(np.array(20.0)), hz_to_mel(np.array(SPEC_SR / 2.0)),
                                        SPEC_MELS + 2) / 2595.0) - 1.0)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lower) / (centre - lower), (upper - freqs) / (upper - centre)))
    return tri.T.astype(np.float32)


class _Columns:
    """Streaming log-mel columns; when more than ``SPEC_MAX_COLUMNS`` exist, neighbours are max-pooled and the
    hop doubles, so any length ends with a bounded image covering the whole recording."""

    def __init__(self, hop: int) -> None:
        self.hop = hop
        self.cols: list[np.ndarray] = []
        self.carry = np.zeros(0, dtype=np.float32)
        self.skip = 0
        self.window = np.hanning(SPEC_NFFT).astype(np.float32)

    def feed(self, chunk: np.ndarray) -> None:
        chunk = np.nan_to_num(chunk.astype(np.float32, copy=False), nan=0.0, posinf=1.0, neginf=-1.0)
        if self.skip:
            take = min(self.skip, chunk.size)
            chunk, self.skip = chunk[take:], self.skip - take
        buf = np.concatenate([self.carry, chunk])
        if buf.size < SPEC_NFFT:
            self.carry = buf
            return
        n = 1 + (buf.size - SPEC_NFFT) // self.hop
        frames = np.lib.stride_tricks.as_strided(
            buf, shape=(n, SPEC_NFFT), strides=(buf.strides[0] * self.hop, buf.strides[0]))
        frames = frames - frames.mean(axis=1, keepdims=True)  # a DC offset must not paint the bottom band
        power = np.abs(np.fft.rfft(frames * self.window, axis=1)) ** 2
        self.cols.extend(np.log10(power @ _mel_matrix() + 1e-10).astype(np.float32))
        consumed = n * self.hop
        self.carry = buf[consumed:].copy() if consumed < buf.size else np.zeros(0, dtype=np.float32)
        self.skip = max(0, consumed - buf.size)
        while len(self.cols) > SPEC_MAX_COLUMNS:
            even = len(self.cols) // 2 * 2
            pooled = np.maximum(np.stack(self.cols[0:even:2]), np.stack(self.cols[1:even:2]))
            self.cols = [*pooled, *self.cols[even:]]
            self.hop *= 2

    def image(self) -> np.ndarray:
        if not self.cols:
            self.feed(np.zeros(SPEC_NFFT, dtype=np.float32))
        db = 10.0 * np.stack(self.cols).T[::-1]  # (mels, time), low frequencies at the bottom
        top = float(db.max())
        norm = np.clip((db - (top - 80.0)) / 80.0, 0.0, 1.0) if top > -90.0 else np.zeros_like(db)
        pos = norm * (len(_RAMP) - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, len(_RAMP) - 1)
        frac = (pos - lo)[..., None]
        return (_RAMP[lo] * (1 - frac) + _RAMP[hi] * frac).astype(np.uint8)


def render_spectrogram(path: Path, duration_s: float | None = None) -> bytes:
    """PNG bytes of a log-mel spectrogram of any audio/video file (streamed; bounded size)."""
    from PIL import Image

    expected = int((duration_s or 0) * SPEC_SR)
    hop = max(160, -(-expected // SPEC_MAX_COLUMNS)) if expected else 160
    columns = _Columns(hop)
    decoded = 0
    for _, chunk in media_io.iter_audio(path, sample_rate=SPEC_SR, chunk_s=30.0):
        columns.feed(chunk)
        decoded += chunk.size
    rgb = columns.image()
    missing = expected - decoded
    if expected and missing > max(SPEC_SR, 0.02 * expected):
        # Decoded short of the duration the file declares (truncated, damaged): keep the time axis, so event bars
        # drawn at their times line up; the part with no audio is a flat grey band.
        extra = max(0, int(round(expected / columns.hop)) - rgb.shape[1])
        rgb = np.concatenate([rgb, np.full((rgb.shape[0], extra, 3), NO_AUDIO_RGB, np.uint8)], axis=1)
    img = Image.fromarray(rgb).resize((rgb.shape[1], SPEC_HEIGHT), Image.Resampling.BILINEAR)
    return media_io.encode_png(np.asarray(img))


def spectrogram_file(media: MediaItem) -> Path:
    """The cached spectrogram PNG of a media item, made on first request (raises ``DecodeError``).

    Rendering streams the file (about 1.7 s of CPU per 10 min of audio, mostly decoding), well inside the
    web timeout even for a day-long recording."""
    target = spectrogram_path(media)
    if target.exists():
        return target
    # One renderer per item: a second request (another thread or web worker) waits, then reads the cache.
    with open(target.with_name(f".{target.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            data = render_spectrogram(storage.object_path(media.sha256), media.duration_s)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
    return target
