"""Streaming speech pipeline for one recording: VAD -> language ID -> Whisper -> English -> embeddings.

Memory stays bounded whatever the length: audio arrives in chunks (``iter_audio``), the VAD runs on each chunk
with its state carried over, and only the audio of the speech span still open (at most ``max_span_s``), one chunk
and one pending group (at most ``max_group_s``) are kept.

Consecutive speech spans are joined (silence removed) into groups of up to ``max_group_s`` and decoded together:
Whisper's encoder always costs a full 30 s window, so decoding short utterances one by one would be several times
slower. One encoder pass per group serves both language ID and decoding. A group is closed early when a new span
sounds like another language (a cheap 5 s-window language guess per span), so a file that switches language
between utterances gets the right language per segment.

Public surface: ``SpeechPipeline``, ``SegmentRecord``, ``PipelineOptions``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plugins.speech_translation.asr import AsrSegment, DecodeOptions, WhisperAsr
from plugins.speech_translation.constants import ENGINE_NONE, ENGINE_WHISPER
from plugins.speech_translation.translate import TextTranslator
from plugins.speech_translation.vad import SAMPLE_RATE, WINDOW, SileroVad, SpanTracker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """Settings of one run (built from the plugin settings)."""

    decode: DecodeOptions = DecodeOptions()
    vad_threshold: float = 0.5
    min_silence_s: float = 0.6
    speech_pad_s: float = 0.2
    max_span_s: float = 30.0
    max_group_s: float = 28.0
    languages: tuple[str, ...] = ()  # restrict language ID to these codes (empty: all Whisper languages)
    min_language_probability: float = 0.5  # below this, a span follows the file's dominant language if plausible
    translate: bool = True


@dataclass(slots=True)
class SegmentRecord:
    """One transcript segment with everything a finding needs."""

    asr: AsrSegment
    language: str
    language_probability: float
    text_en: str | None = None
    engine: str = ENGINE_NONE


@dataclass(slots=True)
class _Group:
    """Spans of one language waiting to be decoded together."""

    parts: list[tuple[int, NDArray[np.float32]]] = field(default_factory=list)  # (item start sample, audio)
    samples: int = 0
    quick: tuple[str, float] | None = None  # cheap language guess of the first span, computed when needed

    def time_map(self) -> Callable[[float], float]:
        """Time in the joined audio -> time in the item (piecewise, one piece per span)."""
        starts = np.cumsum([0] + [a.size for _, a in self.parts])[:-1] / SAMPLE_RATE
        origins = np.array([s for s, _ in self.parts]) / SAMPLE_RATE

        def tm(t: float) -> float:
            k = max(0, int(np.searchsorted(starts, t, side="right")) - 1)
            return float(origins[k] + (t - starts[k]))

        return tm


@dataclass(slots=True)
class _RunState:
    records: list[SegmentRecord] = field(default_factory=list)
    lang_votes: dict[str, float] = field(default_factory=dict)  # speech seconds per confident language
    group: _Group | None = None


class SpeechPipeline:
    """Loaded models + the per-item streaming loop (one instance per worker process)."""

    def __init__(self, vad: SileroVad, asr: WhisperAsr, translator: TextTranslator,
                 embed: Callable[[Sequence[str]], NDArray[np.float32]]) -> None:
        self.vad = vad
        self.asr = asr
        self.translator = translator
        self.embed = embed

    # ------------------------------------------------------------------ streaming
    def run(self, chunks: Iterable[tuple[float, NDArray[np.float32]]], opts: PipelineOptions,
            progress: Callable[[float], None] | None = None) -> tuple[list[SegmentRecord], float]:
        """Process a stream of 16 kHz mono chunks; returns the segments and the audio duration (s)."""
        state = _RunState()
        tracker = SpanTracker(threshold=opts.vad_threshold, neg_threshold=max(0.01, opts.vad_threshold - 0.15),
                              min_silence_s=opts.min_silence_s, pad_s=opts.speech_pad_s, max_span_s=opts.max_span_s)
        vad_state = self.vad.new_state()
        buf = np.zeros(0, np.float32)  # audio kept for spans not decoded yet
        buf_start = 0  # absolute sample index of buf[0]
        pending = np.zeros(0, np.float32)  # < WINDOW samples not yet seen by the VAD
        total = 0
        for _, chunk in chunks:
            chunk = np.asarray(chunk, np.float32)
            buf = np.concatenate([buf, chunk])
            total += chunk.size
            vin = np.concatenate([pending, chunk])
            n = vin.size // WINDOW * WINDOW
            spans = tracker.feed(self.vad(vin[:n], vad_state))
            pending = vin[n:]
            for s, e in spans:
                self._add_span(buf[max(0, s - buf_start) : e - buf_start].copy(), s, opts, state)
            keep = tracker.open_start_sample()
            if keep is None:
                keep = max(0, total - pending.size - int(opts.speech_pad_s * SAMPLE_RATE))
            if keep > buf_start:
                buf = buf[keep - buf_start :].copy()
                buf_start = keep
            if progress is not None:
                progress(total / SAMPLE_RATE)
        tail: list[tuple[int, int]] = []
        if pending.size:  # last partial window: zero-pad so the tail is judged too
            tail = tracker.feed(self.vad(np.concatenate([pending, np.zeros(WINDOW - pending.size, np.float32)]),
                                         vad_state))
        for s, e in tail + tracker.flush():
            self._add_span(buf[max(0, s - buf_start) : max(0, min(e, total) - buf_start)].copy(), s, opts, state)
        self._decode_group(opts, state)
        if opts.translate:
            self._translate_text(state.records)
        return state.records, total / SAMPLE_RATE

    # ------------------------------------------------------------------ per span / group
    def _pick_language(self, ranked: list[tuple[str, float]], opts: PipelineOptions,
                       state: _RunState) -> tuple[str, float]:
        """Top language (within ``opts.languages``); an unsure group follows the file's language if plausible."""
        allowed = [(lang, p) for lang, p in ranked if not opts.languages or lang in opts.languages] or ranked
        lang, prob = allowed[0]
        if prob < opts.min_language_probability and state.lang_votes:
            dominant = max(state.lang_votes, key=state.lang_votes.__getitem__)
            alt = dict(ranked).get(dominant, 0.0)
            if dominant != lang and alt >= 0.1:
                return dominant, alt
        return lang, prob

    def _add_span(self, audio: NDArray[np.float32], start_sample: int, opts: PipelineOptions,
                  state: _RunState) -> None:
        """Queue a span in the current group; decode the group first if it is full or the language changes."""
        if audio.size < int(0.2 * SAMPLE_RATE):
            return
        g = state.group
        quick: tuple[str, float] | None = None
        if g is not None and g.samples + audio.size > opts.max_group_s * SAMPLE_RATE:
            self._decode_group(opts, state)
        elif g is not None and len(opts.languages) != 1:  # one configured language: no change to notice
            if g.quick is None:
                g.quick = self.asr.quick_language(g.parts[0][1], opts.languages)
            quick = self.asr.quick_language(audio, opts.languages)
            if quick[0] != g.quick[0] and min(quick[1], g.quick[1]) >= opts.min_language_probability:
                self._decode_group(opts, state)
        if state.group is None:
            state.group = _Group(quick=quick)
        state.group.parts.append((start_sample, audio))
        state.group.samples += audio.size

    def _decode_group(self, opts: PipelineOptions, state: _RunState) -> None:
        g, state.group = state.group, None
        if g is None or not g.parts:
            return
        audio = np.concatenate([a for _, a in g.parts])
        lang, prob, segments, repetitive = self.asr.decode(
            audio, opts.decode, lambda r: self._pick_language(r, opts, state), time_map=g.time_map())
        if repetitive and len(g.parts) > 1:
            # The repetition guard fires on a whole window; joined utterances that repeat each other (a chant, a
            # phrase said again) must not be lost with it: decode the two halves of the group separately.
            mid = len(g.parts) // 2
            for half in (g.parts[:mid], g.parts[mid:]):
                state.group = _Group(parts=half, samples=sum(a.size for _, a in half))
                self._decode_group(opts, state)
            return
        if not segments:
            return
        if prob >= opts.min_language_probability:
            state.lang_votes[lang] = state.lang_votes.get(lang, 0.0) + audio.size / SAMPLE_RATE
        for seg in segments:
            rec = SegmentRecord(asr=seg, language=lang, language_probability=round(prob, 4))
            if lang == "en":
                rec.text_en, rec.engine = seg.text, ENGINE_NONE
            elif opts.translate and self.translator.route(lang) is None:
                # No text MT for this language: Whisper's speech translation on the segment's own audio.
                a = max(0, int((seg.local[0] - 0.1) * SAMPLE_RATE))
                b = min(audio.size, int((seg.local[1] + 0.2) * SAMPLE_RATE))
                rec.text_en, rec.engine = self.asr.translate(audio[a:b], lang, opts.decode), ENGINE_WHISPER
            state.records.append(rec)

    # ------------------------------------------------------------------ text MT, batched per route
    def _translate_text(self, records: list[SegmentRecord]) -> None:
        by_lang: dict[str, list[SegmentRecord]] = {}
        for rec in records:
            if rec.text_en is None:
                by_lang.setdefault(rec.language, []).append(rec)
        for lang, recs in by_lang.items():
            route = self.translator.route(lang)
            if route is None:
                continue
            try:
                outs = self.translator.translate(route, [r.asr.text for r in recs])
            except Exception as exc:  # noqa: BLE001 - keep the transcript even if MT breaks
                log.warning("translation %s failed: %s", route.engine, exc)
                continue
            for rec, out in zip(recs, outs, strict=True):
                rec.text_en, rec.engine = out, route.engine

    def embed_records(self, records: Sequence[SegmentRecord]) -> NDArray[np.float32]:
        """MiniLM vectors of the English text (the source text when no English is available)."""
        return self.embed([r.text_en or r.asr.text for r in records])


def record_data(rec: SegmentRecord, asr_model: str) -> dict[str, Any]:
    """The JSON-safe ``Finding.data`` of a segment."""
    return {
        "language": rec.language,
        "language_probability": rec.language_probability,
        "text_en": rec.text_en,
        "engine": rec.engine,
        "avg_logprob": round(rec.asr.avg_logprob, 4),
        "no_speech_prob": round(rec.asr.no_speech_prob, 4),
        "words": [list(w) for w in rec.asr.words],
        "asr_model": asr_model,
    }
