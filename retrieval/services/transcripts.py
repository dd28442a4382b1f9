"""Transcripts of the speech_translation plugin: segments, keyword highlighting, search and export.

Each transcript segment is a ``Finding`` of plugin ``speech_translation``: ``text`` = the original words,
``start_s``/``end_s`` = its time, ``score`` = confidence, ``data`` = language, ``text_en``, engine, words...

Search (``search_transcripts``) combines, in one service:

- PostgreSQL full-text search over the original text (``'simple'`` configuration: the languages vary, so no
  stemming or stop words we could get wrong) and over the English translation (``'english'``: stemmed, so
  "banks" finds "bank"). Two stored generated ``tsvector`` columns with partial GIN indexes (migration
  ``0004_transcripts``) serve the two ``@@`` tests and ``ts_rank``; ``ts_headline`` runs on the shown
  page only (it re-parses the text).
- Semantic search: the query is embedded with the plugin's MiniLM (``text_embed.MiniLMEmbedder``, loaded once
  per web process) and looked up with ``services.search.search_similar`` in the active ``minilm`` space.
- Hybrid: reciprocal rank fusion, ``score = Σ 1 / (RRF_K + rank)`` over the two lists.

Case visibility is part of every SQL ``WHERE`` (``case_id = ANY(visible ids)``).
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils.safestring import SafeString, mark_safe

from retrieval.models import Case, Finding, MediaItem
from retrieval.models.watchlists import Watchlist, WatchlistKind
from retrieval.services import search
from retrieval.services.watchlists import phrase_pattern

log = logging.getLogger(__name__)

PLUGIN = "speech_translation"
SPACE = "minilm"
RRF_K = 60
#: How many hits each method contributes before fusion (deeper pages are not useful for a transcript search).
FUSION_DEPTH = 200
MODES = ("hybrid", "text", "semantic")
#: Segments are short (one VAD span): show the whole line with marks rather than fragments of it.
HEADLINE_OPTS = "StartSel=<mark>, StopSel=</mark>, MaxWords=60, MinWords=30"
#: Below this cosine similarity a MiniLM neighbour is not about the query (unrelated sentences score 0..0.2).
SEMANTIC_MIN_SIMILARITY = 0.25
QUERY_THREADS = 1


# --------------------------------------------------------------------------- segments of one media item


def clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a moment in a recording, for people."""
    s = max(0, int(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


@dataclass(frozen=True)
class Segment:
    finding_id: int
    start_s: float
    end_s: float
    text: str
    text_en: str
    language: str
    engine: str
    confidence: float | None
    html_original: SafeString = mark_safe("")  # noqa: S308 - built from escaped text only
    html_english: SafeString = mark_safe("")  # noqa: S308
    hits: tuple[str, ...] = ()

    @property
    def clock(self) -> str:
        return clock(self.start_s)


def transcript_version(media: MediaItem) -> str | None:
    """The model version whose transcript to show: the active space's, else the newest stored one."""
    space = search.active_space(PLUGIN, SPACE)
    qs = Finding.objects.filter(media=media, plugin=PLUGIN)
    if space is not None and qs.filter(model_version=space.model_version).exists():
        return space.model_version
    latest = qs.order_by("-created_at", "-id").values_list("model_version", flat=True).first()
    return latest


def keyword_patterns(media: MediaItem, user: Any) -> list[tuple[str, re.Pattern[str]]]:
    """Phrases of keyword watchlists that watch this media's case, from cases ``user`` may see."""
    lists = (Watchlist.objects.watching(media.case_id).filter(kind=WatchlistKind.KEYWORD)
             .filter(case__in=Case.objects.visible_to(user)).prefetch_related("entries"))
    phrases = {(e.value or e.label).strip() for wl in lists for e in wl.entries.all()}
    return [(p, phrase_pattern(p)) for p in sorted(phrases) if p]


def highlight(text: str, patterns: Sequence[tuple[str, re.Pattern[str]]]) -> tuple[SafeString, list[str]]:
    """``text`` HTML-escaped with ``<mark>`` around every keyword hit; also returns the phrases found."""
    spans: list[tuple[int, int]] = []
    found: list[str] = []
    for phrase, pattern in patterns:
        matches = [(m.start(), m.end()) for m in pattern.finditer(text)]
        if matches:
            found.append(phrase)
            spans.extend(matches)
    spans.sort()
    out, pos = [], 0
    for start, end in spans:
        if start < pos:  # overlapping hits: the earlier one wins
            continue
        out.append(html.escape(text[pos:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return mark_safe("".join(out)), found  # noqa: S308 - every piece is escaped above


def segments_for(media: MediaItem, user: Any = None, *, with_highlights: bool = True) -> list[Segment]:
    """The transcript of ``media`` (caller has checked that ``user`` may see it), in time order."""
    version = transcript_version(media)
    if version is None:
        return []
    patterns = keyword_patterns(media, user) if with_highlights and user is not None else []
    rows = (Finding.objects.filter(media=media, plugin=PLUGIN, model_version=version)
            .order_by("start_s", "id").values_list("id", "start_s", "end_s", "text", "data", "score"))
    segments = []
    for fid, start, end, text, data, score in rows:
        data = data or {}
        english = str(data.get("text_en") or "")
        html_o, hits_o = highlight(text or "", patterns)
        html_e, hits_e = highlight(english, patterns)
        segments.append(Segment(
            finding_id=fid, start_s=float(start or 0.0), end_s=float(end if end is not None else start or 0.0),
            text=text or "", text_en=english, language=str(data.get("language") or ""),
            engine=str(data.get("engine") or ""), confidence=score, html_original=html_o, html_english=html_e,
            hits=tuple(dict.fromkeys(hits_o + hits_e)),
        ))
    return segments


# --------------------------------------------------------------------------- export


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def _line(segment: Segment, english: bool) -> str:
    text = segment.text_en if english and segment.text_en else segment.text
    return " ".join(text.split())


EXPORT_FORMATS = {"srt": "application/x-subrip", "vtt": "text/vtt", "txt": "text/plain"}


def export(segments: Sequence[Segment], fmt: str, *, english: bool = False, title: str = "") -> str:
    """The transcript as SubRip (``srt``), WebVTT (``vtt``) or plain text (``txt``), original or English."""
    if fmt == "srt":
        blocks = [f"{i}\n{_stamp(s.start_s, ',')} --> {_stamp(max(s.end_s, s.start_s), ',')}\n{_line(s, english)}"
                  for i, s in enumerate(segments, 1)]
        return "\n\n".join(blocks) + ("\n" if blocks else "")
    if fmt == "vtt":
        blocks = [f"{i}\n{_stamp(s.start_s, '.')} --> {_stamp(max(s.end_s, s.start_s), '.')}\n"
                  f"{_line(s, english).replace('-->', '->')}" for i, s in enumerate(segments, 1)]
        return "WEBVTT\n\n" + "\n\n".join(blocks) + ("\n" if blocks else "")
    if fmt == "txt":
        head = [f"# {title}", f"# {'English translation' if english else 'Original words'}", ""] if title else []
        lines = [f"[{_stamp(s.start_s, '.')[:-4]}] ({s.language or '?'}) {_line(s, english)}" for s in segments]
        return "\n".join(head + lines) + "\n"
    raise ValueError(f"unknown transcript format {fmt!r} (srt, vtt or txt)")


# --------------------------------------------------------------------------- query embedding


class QueryEmbedder:
    """MiniLM loaded once per process (lazy, locked); records load and per-query latency.

    One query is a handful of tokens: torch's intra-op threads only add spin-waiting, which on a busy host
    costs a lot (measured on the contended 2-core dev VM: median 1.0-1.5 s per query with 2 threads,
    80-125 ms with 1). Queries therefore run with ``QUERY_THREADS`` threads, restored afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._model: Any = None
        self.load_s: float | None = None
        self.last_query_ms: float | None = None

    def model_dir(self) -> Path:
        from plugins.speech_translation.constants import MINILM_DIR

        return Path(settings.MMSEC_MODEL_DIR) / PLUGIN / MINILM_DIR

    def available(self) -> bool:
        return (self.model_dir() / "model.safetensors").is_file()

    def __call__(self, text: str) -> np.ndarray:
        with self._lock:
            if self._model is None:
                from plugins.speech_translation.text_embed import MiniLMEmbedder

                started = time.monotonic()
                self._model = MiniLMEmbedder(self.model_dir(), device="cpu", batch_size=1)
                self.load_s = time.monotonic() - started
                log.info("transcript search: MiniLM loaded in %.2f s", self.load_s)
            torch = self._model._torch
            threads = torch.get_num_threads()
            started = time.monotonic()
            try:
                torch.set_num_threads(QUERY_THREADS)
                vector = self._model([text])[0]
            finally:
                torch.set_num_threads(threads)
            self.last_query_ms = (time.monotonic() - started) * 1000
        return vector


embed_query = QueryEmbedder()
#: Threads for hybrid search's query embedding, which overlaps the full-text query (torch releases the GIL).
_EMBEDDER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mmsec-embed")


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class TranscriptFilters:
    case_ids: list[int] | None = None  # narrowed to visible cases
    language: str = ""
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None


@dataclass
class TranscriptHit:
    finding_id: int
    media_id: int
    case_id: int
    start_s: float
    end_s: float
    text: str
    text_en: str
    language: str
    engine: str
    snippet: SafeString = mark_safe("")  # noqa: S308 - ts_headline output of escaped text, see _headline
    snippet_en: SafeString = mark_safe("")  # noqa: S308
    text_rank: int | None = None  # 1-based rank in the full-text list
    semantic_rank: int | None = None  # 1-based rank in the semantic list
    text_score: float | None = None  # ts_rank (original + English)
    similarity: float | None = None  # cosine similarity
    score: float = 0.0  # fused
    media_name: str = ""
    case_title: str = ""

    @property
    def clock(self) -> str:
        return clock(self.start_s)

    @property
    def href(self) -> str:
        return f"/media/{self.media_id}/?t={self.start_s:.2f}"


@dataclass
class TranscriptResults:
    hits: list[TranscriptHit]
    total: int
    mode: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _visible_case_ids(user: Any, filters: TranscriptFilters) -> list[int]:
    visible = list(Case.objects.visible_to(user).values_list("id", flat=True))
    if filters.case_ids is None:
        return visible
    allowed = set(visible)
    return [c for c in filters.case_ids if c in allowed]


def _active_version() -> str | None:
    space = search.active_space(PLUGIN, SPACE)
    return space.model_version if space is not None else None


def _where(case_ids: list[int], filters: TranscriptFilters) -> tuple[list[str], list[Any]]:
    where = ["f.plugin = %s", "f.case_id = ANY(%s)"]
    params: list[Any] = [PLUGIN, case_ids]
    version = _active_version()
    if version is not None:
        where.append("f.model_version = %s")
        params.append(version)
    if filters.language:
        where.append("f.data->>'language' = %s")
        params.append(filters.language)
    for op, moment in ((">=", filters.uploaded_after), ("<", filters.uploaded_before)):
        if moment is not None:
            where.append(f"m.uploaded_at {op} %s")
            params.append(moment)
    return where, params


# Stored generated tsvector columns (migration 0004_transcripts; NULL for other plugins' rows).
TSV_ORIGINAL = "f.fts_original"
TSV_ENGLISH = "f.fts_english"


def _escape_headline(expr: str) -> str:
    """ts_headline over HTML-escaped text so only our <mark> tags reach the page."""
    return (f"replace(replace(replace({expr}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')")


def full_text(user: Any, query: str, filters: TranscriptFilters | None = None,
              limit: int = FUSION_DEPTH, *, snippets: bool = True) -> list[TranscriptHit]:
    """Ranked full-text hits over original and English text (with highlighted snippets unless told not to).

    ``ts_rank`` (term frequency) rather than ``ts_rank_cd`` (cover density): every match is ranked before the
    top 200 are kept, and at 120,000 segments cover density took 2-3x longer for common words and OR queries
    ("keys OR boat", 20,000 matches: 145 ms vs 37 ms) with the same top 20 for single words. Segments are a
    sentence long, so the proximity that cover density rewards adds little; phrases still have to match."""
    filters = filters or TranscriptFilters()
    case_ids = _visible_case_ids(user, filters)
    if not query.strip() or not case_ids:
        return []
    where, params = _where(case_ids, filters)
    table = Finding._meta.db_table
    # The media row is only needed for the upload-date filters (a third of the query's time without them).
    dated = filters.uploaded_after is not None or filters.uploaded_before is not None
    join = f'JOIN "{MediaItem._meta.db_table}" m ON m.id = f.media_id' if dated else ""
    sql = f"""
        WITH q AS (SELECT websearch_to_tsquery('simple', %s) AS qs, websearch_to_tsquery('english', %s) AS qe)
        SELECT f.id, f.media_id, f.case_id, f.start_s, f.end_s, f.text, COALESCE(f.data->>'text_en', ''),
               COALESCE(f.data->>'language', ''), COALESCE(f.data->>'engine', ''),
               ts_rank(COALESCE({TSV_ORIGINAL}, ''), q.qs) + ts_rank(COALESCE({TSV_ENGLISH}, ''), q.qe) AS rank
        FROM "{table}" f {join}, q
        WHERE {' AND '.join(where)} AND ({TSV_ORIGINAL} @@ q.qs OR {TSV_ENGLISH} @@ q.qe)
        ORDER BY rank DESC, f.id
        LIMIT %s
    """
    with connection.cursor() as cur:
        cur.execute(sql, [query, query, *params, limit])
        rows = cur.fetchall()
    hits = [
        TranscriptHit(
            finding_id=r[0], media_id=r[1], case_id=r[2], start_s=float(r[3] or 0.0),
            end_s=float(r[4] if r[4] is not None else r[3] or 0.0), text=r[5], text_en=r[6], language=r[7],
            engine=r[8], text_score=float(r[9]), text_rank=rank,
        )
        for rank, r in enumerate(rows, 1)
    ]
    if snippets:
        add_snippets(query, hits)
    return hits


def add_snippets(query: str, hits: Sequence[TranscriptHit]) -> None:
    """``ts_headline`` of the hits shown (only those: it re-parses the text); empty where nothing matched."""
    if not hits or not query.strip():
        return
    sql = f"""
        WITH q AS (SELECT websearch_to_tsquery('simple', %s) AS qs, websearch_to_tsquery('english', %s) AS qe)
        SELECT f.id, ts_headline('simple', {_escape_headline('f.text')}, q.qs, %s),
               ts_headline('english', {_escape_headline("COALESCE(f.data->>'text_en', '')")}, q.qe, %s)
        FROM "{Finding._meta.db_table}" f, q WHERE f.id = ANY(%s)
    """
    with connection.cursor() as cur:
        cur.execute(sql, [query, query, HEADLINE_OPTS, HEADLINE_OPTS, [h.finding_id for h in hits]])
        marks = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    for hit in hits:
        original, english = marks.get(hit.finding_id, ("", ""))
        # The text was HTML-escaped in SQL before ts_headline added <mark>: safe to render as is.
        hit.snippet = mark_safe(original if "<mark>" in original else "")  # noqa: S308
        hit.snippet_en = mark_safe(english if "<mark>" in english else "")  # noqa: S308


def semantic(user: Any, query: str, filters: TranscriptFilters | None = None,
             limit: int = FUSION_DEPTH, vector: np.ndarray | None = None) -> list[TranscriptHit]:
    """Nearest transcript segments to the query's MiniLM embedding (English meaning, any source language).

    ``vector``: the query's embedding when the caller computed it already (hybrid search embeds while the
    full-text query runs)."""
    filters = filters or TranscriptFilters()
    space = search.active_space(PLUGIN, SPACE)
    if space is None or not query.strip() or not embed_query.available():
        return []
    if vector is None:
        vector = embed_query(query)
    # Language is not a column search_similar filters on: over-fetch, then keep that language.
    k = limit * 4 if filters.language else limit
    result = search.search_similar(user, space, vector, k=min(k, 1000), filters=search.SearchFilters(
        case_ids=filters.case_ids, uploaded_after=filters.uploaded_after, uploaded_before=filters.uploaded_before))
    # defer: parsing 200 unused 384-d vectors from text cost ~40 ms per query (profile of the search bench)
    rows = {f.pk: f for f in Finding.objects.filter(pk__in=[h.finding_id for h in result.hits]).defer("vector")}
    hits: list[TranscriptHit] = []
    for h in result.hits:
        f = rows.get(h.finding_id)
        if f is None:
            continue
        data = f.data or {}
        if h.similarity < SEMANTIC_MIN_SIMILARITY:
            break  # hits come nearest first
        if filters.language and data.get("language") != filters.language:
            continue
        hits.append(TranscriptHit(
            finding_id=f.pk, media_id=f.media_id, case_id=f.case_id, start_s=float(f.start_s or 0.0),
            end_s=float(f.end_s if f.end_s is not None else f.start_s or 0.0), text=f.text,
            text_en=str(data.get("text_en") or ""), language=str(data.get("language") or ""),
            engine=str(data.get("engine") or ""), similarity=h.similarity, semantic_rank=len(hits) + 1,
        ))
        if len(hits) >= limit:
            break
    return hits


def fuse(text_hits: Iterable[TranscriptHit], semantic_hits: Iterable[TranscriptHit]) -> list[TranscriptHit]:
    """Reciprocal rank fusion: each list adds ``1 / (RRF_K + rank)``; ties broken by finding id."""
    merged: dict[int, TranscriptHit] = {}
    for hit in text_hits:
        hit.score = 1.0 / (RRF_K + (hit.text_rank or 0))
        merged[hit.finding_id] = hit
    for hit in semantic_hits:
        extra = 1.0 / (RRF_K + (hit.semantic_rank or 0))
        seen = merged.get(hit.finding_id)
        if seen is None:
            hit.score = extra
            merged[hit.finding_id] = hit
        else:
            seen.score += extra
            seen.semantic_rank = hit.semantic_rank
            seen.similarity = hit.similarity
    return sorted(merged.values(), key=lambda h: (-h.score, h.finding_id))


def search_transcripts(user: Any, query: str, *, mode: str = "hybrid", filters: TranscriptFilters | None = None,
                       offset: int = 0, limit: int = 20) -> TranscriptResults:
    """Full-text, semantic or hybrid search over every transcript ``user`` may see (one page of hits)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    filters = filters or TranscriptFilters()
    timings: dict[str, float] = {}
    notes: list[str] = []
    text_hits: list[TranscriptHit] = []
    sem_hits: list[TranscriptHit] = []
    semantic_ready = bool(mode == "hybrid" and query.strip() and embed_query.available()
                          and search.active_space(PLUGIN, SPACE) is not None)
    # Hybrid: the query embedding (torch, CPU) runs in a thread while PostgreSQL runs the full-text query.
    embedding = _EMBEDDER.submit(embed_query, query) if semantic_ready else None
    if mode in ("hybrid", "text"):
        started = time.monotonic()
        text_hits = full_text(user, query, filters, snippets=False)
        timings["text"] = round((time.monotonic() - started) * 1000, 1)
    if mode in ("hybrid", "semantic"):
        if not embed_query.available():
            notes.append("Semantic search is unavailable: the MiniLM weights are not installed.")
        elif search.active_space(PLUGIN, SPACE) is None:
            notes.append("Semantic search has no active transcript vector space yet.")
        else:
            started = time.monotonic()
            sem_hits = semantic(user, query, filters, vector=embedding.result() if embedding else None)
            timings["semantic"] = round((time.monotonic() - started) * 1000, 1)
            if embed_query.last_query_ms is not None:
                timings["embed"] = round(embed_query.last_query_ms, 1)
    if mode == "text":
        ranked = text_hits
        for h in ranked:
            h.score = h.text_score or 0.0
    elif mode == "semantic":
        ranked = sem_hits
        for h in ranked:
            h.score = h.similarity or 0.0
    else:
        ranked = fuse(text_hits, sem_hits)
    page = ranked[offset: offset + limit]
    add_snippets(query, page)
    _attach_names(page)
    return TranscriptResults(hits=page, total=len(ranked), mode=mode, timings_ms=timings, notes=notes)


def _attach_names(hits: list[TranscriptHit]) -> None:
    media = dict(MediaItem.objects.filter(pk__in=[h.media_id for h in hits]).values_list("id", "original_name"))
    cases = dict(Case.objects.filter(pk__in=[h.case_id for h in hits]).values_list("id", "title"))
    for h in hits:
        h.media_name = media.get(h.media_id, "")
        h.case_title = cases.get(h.case_id, "")


def languages(user: Any) -> list[str]:
    """Languages present in the transcripts ``user`` may see (for the filter drop-down).

    A loose index scan over ``finding_speech_language`` (migration 0010): one index probe per distinct
    language (the next one after the last), with the visible cases checked in the index, instead of a
    ``DISTINCT`` that reads every segment's JSON.
    """
    case_ids = list(Case.objects.visible_to(user).values_list("id", flat=True))
    if not case_ids:
        return []
    lang = "(data->>'language')"
    step = (f"SELECT {lang} FROM \"{Finding._meta.db_table}\" WHERE plugin = '{PLUGIN}' AND case_id = ANY(%s) "
            f"AND {lang} {{}} ORDER BY {lang} LIMIT 1")
    sql = (f"WITH RECURSIVE langs(lang) AS (({step.format('IS NOT NULL')}) UNION ALL "
           f"SELECT ({step.format('> langs.lang')}) FROM langs WHERE langs.lang IS NOT NULL) "
           "SELECT lang FROM langs WHERE lang IS NOT NULL")
    with connection.cursor() as cur:
        cur.execute(sql, [case_ids, case_ids])
        return [r[0] for r in cur.fetchall() if r[0]]


@dataclass
class SearchRequest:
    """A transcript search parsed from page or API parameters (same rules for both)."""

    query: str = ""
    mode: str = "hybrid"
    filters: TranscriptFilters = field(default_factory=TranscriptFilters)
    errors: dict[str, str] = field(default_factory=dict)


def _date(value: str, name: str, errors: dict[str, str], *, end: bool = False) -> datetime | None:
    from datetime import UTC, date, timedelta

    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors[name] = "use a date like 2026-11-27"
        return None
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment  # "before" includes that whole day


def parse_request(params: Any) -> SearchRequest:
    """``q``, ``mode`` (hybrid|text|semantic), ``language``, ``case``, ``after``/``before`` (ISO dates)."""
    errors: dict[str, str] = {}
    query = str(params.get("q", "")).strip()[:500]
    mode = str(params.get("mode", "") or "hybrid")
    if mode not in MODES:
        errors["mode"] = f"one of {', '.join(MODES)}"
        mode = "hybrid"
    case = str(params.get("case", "") or "")
    case_ids = None
    if case:
        if not case.isdigit():
            errors["case"] = "must be a case id"
        else:
            case_ids = [int(case)]
    language = str(params.get("language", "") or "").strip()[:16]
    filters = TranscriptFilters(
        case_ids=case_ids, language=language,
        uploaded_after=_date(str(params.get("after", "") or ""), "after", errors),
        uploaded_before=_date(str(params.get("before", "") or ""), "before", errors, end=True),
    )
    return SearchRequest(query=query, mode=mode, filters=filters, errors=errors)


def audit_search(request: Any, parsed: SearchRequest, results: TranscriptResults) -> None:
    from retrieval.services import audit

    f = parsed.filters
    audit.record("transcript.search", actor=request.user, request=request, details={
        "q": parsed.query[:200], "mode": parsed.mode, "hits": results.total, "language": f.language,
        "cases": f.case_ids, "after": f.uploaded_after.isoformat() if f.uploaded_after else None,
        "before": f.uploaded_before.isoformat() if f.uploaded_before else None,
    })


def export_response_parts(media: MediaItem, fmt: str, lang: str) -> tuple[str, str, str]:
    """(body, content type, file name) of a transcript export; ``ValueError`` on a bad format or language."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError("format must be srt, vtt or txt")
    if lang not in ("original", "en"):
        raise ValueError("lang must be original or en")
    segments = segments_for(media, None, with_highlights=False)
    body = export(segments, fmt, english=lang == "en", title=media.original_name)
    stem = Path(media.original_name).stem or f"media-{media.pk}"
    return body, f"{EXPORT_FORMATS[fmt]}; charset=utf-8", f"{stem}.{lang}.{fmt}"
