"""Whisper (CTranslate2, via faster-whisper) on one VAD speech span: language ID, transcript, word times.

Hallucination guards live here: decoding never conditions on earlier text, uses temperature 0 only (a failed
decode is dropped, not re-sampled, which also keeps results deterministic), and every segment passes
``keep_segment`` (no-speech / log-prob / repetition / empty-text rules) before it becomes a finding.

Public surface: ``WhisperAsr``, ``AsrSegment``, ``DecodeOptions``, ``keep_segment``, ``looks_hallucinated``,
``model_identity``,
``check_model_dir``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Mel frames (10 ms) of one Whisper window, and of the shorter input of ``WhisperAsr.quick_language``.
N_FRAMES = 3000
LID_QUICK_FRAMES = 500  # 5 s: as accurate as 10 s on the dev clips (en 87 %, es 81 vs 69 %), 40 % cheaper

_WORDLESS = re.compile(r"^[\s\W_♪♫]*$", re.UNICODE)
# Phrases Whisper emits on non-speech because its training subtitles end with them (whisper.cpp#1507 and many
# reports): whole-text matches and tell-tale fragments. Real speech saying them confidently is kept (see below).
_HALLUCINATED_TEXTS = {
    "thank you", "thank you very much", "thanks for watching", "thank you for watching", "thank you so much",
    "thank you so much for watching", "please subscribe", "bye", "you", "so", "okay", "oh", "the end",
    "see you next time", "see you in the next video", "i'll see you in the next video",
    "we'll see you in the next video", "subscribe to my channel",
}
_HALLUCINATED_FRAGMENTS = ("for watching", "subscribe", "amara.org", "subtitles by", "subtitled by",
                           "transcribed by", "translated by", "next video", "www.", ".com")


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """Decoding knobs an administrator may tune (see the plugin's ``default_settings``)."""

    beam_size: int = 5
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    min_word_probability: float = 0.35  # a segment whose mean word probability is lower is dropped
    hallucination_silence_s: float = 2.0


@dataclass(slots=True)
class AsrSegment:
    """One Whisper segment, times relative to the item."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: list[tuple[str, float, float, float]] = field(default_factory=list)
    local: tuple[float, float] = (0.0, 0.0)  # start/end within the decoded audio (for Whisper-translate slices)

    @property
    def confidence(self) -> float:
        """Mean word probability (exp(avg_logprob) when there are no words)."""
        if self.words:
            return float(np.mean([w[3] for w in self.words]))
        return float(np.exp(self.avg_logprob))


def looks_hallucinated(text: str) -> bool:
    """True for Whisper's stock phrases ("Thank you for watching.", "Subtitles by ...")."""
    norm = " ".join(re.sub(r"[^\w'.]+", " ", text.lower()).replace(" .", " ").split()).strip(" .")
    return norm in _HALLUCINATED_TEXTS or any(f in norm for f in _HALLUCINATED_FRAGMENTS)


def keep_segment(seg: AsrSegment, opts: DecodeOptions) -> bool:
    """False for decodes that look invented rather than heard (Whisper's known failure on non-speech)."""
    if not seg.text.strip() or _WORDLESS.match(seg.text):
        return False
    if looks_hallucinated(seg.text) and (seg.no_speech_prob > 0.1 or seg.confidence < 0.8):
        return False
    if seg.no_speech_prob > opts.no_speech_threshold and seg.avg_logprob < opts.log_prob_threshold:
        return False
    if seg.avg_logprob < opts.log_prob_threshold - 0.5:  # decode failed even without the no-speech signal
        return False
    if seg.compression_ratio > opts.compression_ratio_threshold:  # repetition loop
        return False
    return seg.confidence >= opts.min_word_probability


def model_identity(model_dir: Path) -> str:
    """Stable id of a CTranslate2 Whisper directory: sha256 over config.json and model.bin (first 12 hex)."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.bin"):
        with open(Path(model_dir) / name, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()[:12]


def check_model_dir(model_dir: Path) -> None:
    """Refuse anything that is not a CTranslate2 Whisper directory (no pickles, no hub names)."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"Whisper model directory {model_dir} does not exist")
    for name in ("model.bin", "config.json"):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"{model_dir} is not a CTranslate2 Whisper model: {name} is missing")
    if not ((model_dir / "tokenizer.json").is_file()):
        raise FileNotFoundError(f"{model_dir} has no tokenizer.json")
    cfg = json.loads((model_dir / "config.json").read_text())
    if "lang_ids" not in cfg or "alignment_heads" not in cfg:
        raise ValueError(f"{model_dir}/config.json is not a multilingual Whisper CTranslate2 config")


class WhisperAsr:
    """A loaded Whisper model; thread-unsafe by design (one per worker process)."""

    def __init__(self, model_dir: Path, device: str = "cpu", cpu_threads: int = 0) -> None:
        from faster_whisper import WhisperModel

        check_model_dir(model_dir)
        if cpu_threads <= 0:
            cpu_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        compute_type = "float16" if device.startswith("cuda") else "int8"
        index = int(device.split(":")[1]) if ":" in device else 0
        self.model = WhisperModel(str(model_dir), device="cuda" if device.startswith("cuda") else "cpu",
                                  device_index=index, compute_type=compute_type, cpu_threads=cpu_threads,
                                  local_files_only=True)
        self.languages: tuple[str, ...] = tuple(self.model.supported_languages)

    def quick_language(self, audio: NDArray[np.float32], allowed: Sequence[str] = ()) -> tuple[str, float]:
        """Cheap language guess for one span, used only to notice a change of language between spans.

        The encoder runs on the span's own frames padded to ``LID_QUICK_FRAMES`` (5 s) instead of a full 30 s
        window (CTranslate2 accepts shorter inputs): a fraction of the cost, less accurate on very short spans,
        which is why the language that is *recorded* comes from the full window in ``decode``. Measured on the
        dev clips (real English, espeak-ng es/ca/pt/fr): 5 s padding identified as many as 10 s did (3 s lost
        English ones) at 137 instead of 227 ms per check on 2 cores.
        """
        from faster_whisper.audio import pad_or_trim

        features = self.model.feature_extractor(audio)[:, :N_FRAMES]
        frames = min(N_FRAMES, max(features.shape[-1], LID_QUICK_FRAMES))
        ranked = [(tok[2:-2], float(p)) for tok, p in
                  self.model.model.detect_language(self.model.encode(pad_or_trim(features, frames)))[0]]
        return next(((lang, p) for lang, p in ranked if not allowed or lang in allowed), ranked[0])

    def decode(self, audio: NDArray[np.float32], opts: DecodeOptions,
               pick_language: Callable[[list[tuple[str, float]]], tuple[str, float]],
               time_map: Callable[[float], float] | None = None) -> tuple[str, float, list[AsrSegment], bool]:
        """Language ID and transcript of ``audio`` (up to ~30 s) from a single encoder pass.

        ``pick_language`` receives the ranked (language, probability) list of the first 30 s window and returns
        the language to decode in (it applies the ``languages`` restriction and the file-level fallback).
        ``time_map`` converts a time in ``audio`` to a time in the item (``audio`` may be several spans joined).
        Returns (language, probability, kept segments, whether a repetition loop was dropped).
        """
        from faster_whisper.audio import pad_or_trim

        m = self.model
        features = m.feature_extractor(audio)
        encoded = m.encode(pad_or_trim(features[:, :N_FRAMES]))
        ranked = [(tok[2:-2], float(p)) for tok, p in m.model.detect_language(encoded)[0]]
        language, prob = pick_language(ranked)
        try:
            raw = self._generate(features, encoded, language, opts)
        except TypeError:  # faster-whisper internals changed: public API, one extra encoder pass
            raw, _ = m.transcribe(audio, language=language, **self._kwargs(opts))
        tm = time_map or (lambda t: t)
        out = []
        repetitive = False
        for s in raw:
            repetitive |= float(s.compression_ratio) > opts.compression_ratio_threshold
            words = [(w.word.strip(), round(tm(float(w.start)), 3), round(tm(float(w.end)), 3),
                      round(float(w.probability), 4)) for w in (s.words or []) if w.word.strip()]
            seg = AsrSegment(start=round(tm(float(s.start)), 3), end=round(tm(float(s.end)), 3), text=s.text.strip(),
                             avg_logprob=float(s.avg_logprob), no_speech_prob=float(s.no_speech_prob),
                             compression_ratio=float(s.compression_ratio), words=words,
                             local=(float(s.start), float(s.end)))
            if words:  # word times are more precise than the segment's 20 ms-quantised timestamp tokens
                seg.start, seg.end = words[0][1], words[-1][2]
            if keep_segment(seg, opts):
                out.append(seg)
        return language, prob, out, repetitive

    @staticmethod
    def _kwargs(opts: DecodeOptions) -> dict[str, Any]:
        """The decoding settings (faster-whisper ``transcribe`` keywords) behind every guard in this module."""
        return dict(task="transcribe", beam_size=opts.beam_size, temperature=[0.0], condition_on_previous_text=False,
                    no_speech_threshold=opts.no_speech_threshold, log_prob_threshold=opts.log_prob_threshold,
                    compression_ratio_threshold=opts.compression_ratio_threshold, word_timestamps=True,
                    hallucination_silence_threshold=opts.hallucination_silence_s, vad_filter=False)

    def _generate(self, features: Any, encoded: Any, language: str, opts: DecodeOptions) -> list[Any]:
        """faster-whisper's segment generator fed with our encoder output (same options as ``_kwargs``)."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens

        m = self.model
        tokenizer = Tokenizer(m.hf_tokenizer, m.model.is_multilingual, task="transcribe", language=language)
        options = TranscriptionOptions(
            beam_size=opts.beam_size, best_of=5, patience=1, length_penalty=1, repetition_penalty=1,
            no_repeat_ngram_size=0, log_prob_threshold=opts.log_prob_threshold,
            no_speech_threshold=opts.no_speech_threshold, compression_ratio_threshold=opts.compression_ratio_threshold,
            condition_on_previous_text=False, prompt_reset_on_temperature=0.5, temperatures=[0.0],
            initial_prompt=None, prefix=None, suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]), without_timestamps=False,
            max_initial_timestamp=1.0, word_timestamps=True, prepend_punctuations="\"'“¿([{-",
            append_punctuations="\"'.。,，!！?？:：”)]}、", multilingual=False, max_new_tokens=None,
            clip_timestamps="0", hallucination_silence_threshold=opts.hallucination_silence_s, hotwords=None,
        )
        return list(m.generate_segments(features, tokenizer, options, False, encoded))

    def translate(self, audio: NDArray[np.float32], language: str, opts: DecodeOptions) -> str:
        """Whisper's own speech-to-English task: the fallback for languages without a text MT engine.

        Only segments whose transcript passed ``keep_segment`` come here, so speech is already established: the
        no-speech gate is not applied again (it emptied the English of hard-to-read speech whose transcript was
        kept). Stock phrases and repetition loops are still dropped.
        """
        from faster_whisper.transcribe import get_compression_ratio

        segments, _ = self.model.transcribe(
            audio, language=language, task="translate", beam_size=opts.beam_size, temperature=[0.0],
            condition_on_previous_text=False, no_speech_threshold=None, log_prob_threshold=None,
            without_timestamps=True, vad_filter=False,
        )
        text = " ".join(s.text.strip() for s in segments if s.text.strip()).strip()
        if not text or looks_hallucinated(text) or get_compression_ratio(text) > opts.compression_ratio_threshold:
            return ""
        return text

