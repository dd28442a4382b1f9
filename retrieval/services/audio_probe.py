"""Search by audio clip (query by example): "which known recording is this?" and "where do similar sounds
occur in my cases?", for a clip dropped on the search page or sent to the API, never stored.

The clip (an audio file, or a video's audio track) is decoded once to mono 16 kHz, at most ``MAX_CLIP_S``
seconds (a longer file is cut, and the page says so), into a temporary WAV that both analyses read and that
is deleted when the search ends:

a. ``references.fingerprint_clip`` / ``identify_clip``: the ``audio_fingerprint`` landmark fingerprint,
   matched against the PostgreSQL hash store scoped to the reference recordings the user may see, with the
   same matcher and calibrated threshold as evidence matching. No occurrence = "no known recording".
b. the ``audio_events`` plugin (YAMNet, active model, in this process on CPU): the clip's events, and its
   0.96 s segment vectors, each searched with ``search.search_similar`` (visible cases in the SQL); hits at
   or above ``min_similarity`` are merged per recording run (``audio_events.hit_rows``).

One audit event ``audio.probe_search`` per search (probe SHA-256, counts, best results).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import media_io
from retrieval.plugin_api import Item
from retrieval.plugin_api import MediaKind as ItemKind
from retrieval.services import audio_events, audit, probes, references, search

SAMPLE_RATE = 16_000
#: Longest part of a clip analysed (seconds); the rest of a longer file is ignored (and the page says so).
MAX_CLIP_S = 60.0
#: Shorter clips carry too little for either analysis.
MIN_CLIP_S = 1.0
#: Segment vectors of the clip searched (evenly spread over it) and nearest segments fetched for each.
MAX_QUERY_SEGMENTS = 16
PER_SEGMENT = 30
RESULTS = 100  # shown 20 per page (client-side pager)


@dataclass
class AudioProbe:
    sha256: str
    name: str
    error: str = ""
    kind: str = ""  # "audio" | "video" (its audio track was used)
    duration_s: float | None = None  # of the file
    analysed_s: float = 0.0
    recordings: list[references.ClipMatch] = field(default_factory=list)
    reference_tracks: int = 0  # ready recordings the user may match against
    events: list[dict[str, Any]] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)
    segments: int = 0  # clip segment vectors searched
    min_similarity: float = audio_events.DEFAULT_MIN_SIMILARITY
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        return self.duration_s is not None and self.duration_s > self.analysed_s + 0.5

    @property
    def best_recording(self) -> references.ClipMatch | None:
        return self.recordings[0] if self.recordings else None

    @property
    def answer(self) -> str:
        best = self.best_recording
        return best.recording.title if best is not None else "no known recording"


def _decode(path: Path) -> tuple[str, float | None, np.ndarray]:
    """(kind, file duration, first ``MAX_CLIP_S`` seconds as mono 16 kHz). Raises ProbeError/DecodeError."""
    sniffed = probes.check_file(path, {"audio", "video", "unknown"}, "an audio clip")
    info = media_io.probe_av(path)  # also refuses non-media files ("unknown" is tried, e.g. raw AAC)
    samples = media_io.read_audio(path, SAMPLE_RATE, max_s=MAX_CLIP_S)
    if samples.size < MIN_CLIP_S * SAMPLE_RATE:
        raise probes.ProbeError(f"the clip is {samples.size / SAMPLE_RATE:.1f} s long: send at least "
                                f"{MIN_CLIP_S:g} s of sound")
    kind = sniffed.kind if sniffed.kind != "unknown" else ("video" if info.get("width") else "audio")
    return kind, info.get("duration_s"), samples


def _known_recordings(user: Any, clip: Path, out: AudioProbe) -> None:
    out.reference_tracks = references.reference_collections_visible(user)
    if not out.reference_tracks:
        out.notes["recordings"] = "there are no reference recordings in the cases you may see"
        return
    try:
        out.recordings = references.identify_clip(user, references.fingerprint_clip(clip))
    except (media_io.DecodeError, RuntimeError) as exc:
        out.notes["recordings"] = f"the clip could not be fingerprinted: {exc}"


def _similar_sounds(user: Any, clip: Path, out: AudioProbe, k: int, filters: probes.ProbeFilters) -> None:
    try:
        findings = probes.run_plugin(audio_events.PLUGIN, Item(media_id=0, kind=ItemKind.AUDIO, path=clip))
    except probes.ProbeError as exc:
        out.notes["sounds"] = f"sound analysis is not available: {exc}"
        return
    out.events = [{**audio_events.event_chip(f),  # type: ignore[arg-type]
                   "clock": f"{audio_events.clock(f.region.start_s)}–{audio_events.clock(f.region.end_s)}"}
                  for f in findings if f.label and f.label != audio_events.FRAMEWISE and f.vector is None
                  and f.region is not None]
    segments = [f for f in findings if f.space == audio_events.SPACE and f.vector is not None]
    space = search.active_space(audio_events.PLUGIN, audio_events.SPACE)
    if space is None or not segments:
        out.notes["sounds"] = ("no sounds have been indexed in your cases yet" if space is None else
                               "the clip has no sound vectors (silent?)")
        return
    if len(segments) > MAX_QUERY_SEGMENTS:
        segments = [segments[int(i)] for i in np.linspace(0, len(segments) - 1, MAX_QUERY_SEGMENTS).round()]
    out.segments = len(segments)
    best: dict[int, tuple[search.Hit, Any]] = {}
    for seg in segments:
        for h in search.search_similar(user, space, seg.vector, k=PER_SEGMENT,
                                       filters=filters.search_filters()).hits:
            if h.similarity >= out.min_similarity and (h.finding_id not in best
                                                       or h.similarity > best[h.finding_id][0].similarity):
                best[h.finding_id] = (h, seg.region)
    hits = sorted((h for h, _ in best.values()), key=lambda h: -h.similarity)[: k * 3]
    rows = audio_events.hit_rows(hits, space.model_version)[:k]
    for row in rows:
        region = best[row["finding_id"]][1]
        row["clip_clock"] = f"{audio_events.clock(region.start_s)}–{audio_events.clock(region.end_s)}" \
            if region is not None else ""
    out.hits = rows
    if not rows:
        out.notes["sounds"] = (f"nothing in the cases you can see sounds like this clip (similarity at least "
                               f"{out.min_similarity:g})")


def probe_clip(user: Any, path: Path, *, name: str = "", k: int = RESULTS, request: Any = None,
               filters: probes.ProbeFilters = probes.NO_FILTERS) -> AudioProbe:
    """Analyse an uploaded clip (never stored) and answer both questions; audited. Errors go to ``.error``.

    ``filters`` narrow "where do similar sounds occur" (cases, dates, media kind); ``min_score`` raises the
    similarity a hit needs."""
    out = AudioProbe(sha256="", name=name)
    out.min_similarity = max(out.min_similarity, filters.min_score)
    try:
        out.sha256 = probes.sha256_of(path) if path.exists() else ""
        out.kind, out.duration_s, samples = _decode(path)
    except (ValueError, media_io.DecodeError) as exc:
        out.error = str(exc)
        audit.record("audio.probe_search", actor=user, request=request,
                     details={"probe_sha256": out.sha256 or None, "error": out.error[:300]})
        return out
    out.analysed_s = round(samples.size / SAMPLE_RATE, 3)
    with tempfile.TemporaryDirectory(prefix="mmsec-probe-") as tmp:
        clip = Path(tmp) / "clip.wav"
        media_io.write_wav(clip, samples, SAMPLE_RATE)
        del samples
        _known_recordings(user, clip, out)
        _similar_sounds(user, clip, out, k, filters)
    best = out.best_recording
    audit.record("audio.probe_search", actor=user, request=request, details={
        "probe_sha256": out.sha256, "kind": out.kind, "duration_s": out.duration_s, "analysed_s": out.analysed_s,
        "answer": out.answer, "recordings": len(out.recordings),
        "best_recording_id": best.recording.pk if best else None,
        "best_confidence": round(best.confidence, 4) if best else None,
        "events": len(out.events), "segments": out.segments, "hits": len(out.hits),
        "best_similarity": out.hits[0]["similarity"] if out.hits else None,
        "hit_media_ids": [r["media_id"] for r in out.hits], "filters": filters.raw,
    })
    return out
