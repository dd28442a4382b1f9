"""Audio that is in no reference, for calibrating the 'no match' threshold (and for the benchmark).

Sources, each split in two halves by a stable hash of its path (``"cal"`` for
calibration, ``"bench"`` for the benchmark's false-positive test, so the
benchmark never sees the audio the threshold was fitted on):

- corpus speech (natural and espeak-synthesised), concatenated to the length asked;
- corpus sound events, concatenated;
- soundtracks of the corpus videos (music and speech not in the reference set);
- synthetic music (random melodies and chords with harmonics and drum hits);
- white and pink noise, and hum with a quiet tone.

The reference set is every ``kind=music`` item, so nothing here is in it.

Public surface: ``NullExcerpt``, ``null_excerpts``, ``calibration_scores``, ``white``, ``pink``,
``synthetic_music``, ``read_manifest``.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

SR = 16_000
LENGTHS_S = (1.0, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class NullExcerpt:
    """A non-reference excerpt: its kind, a description and 16 kHz mono samples."""

    kind: str
    source: str
    samples: NDArray[np.float32]


def read_manifest(corpus: Path) -> list[dict[str, str]]:
    """Rows of ``manifest.csv``; falls back to scanning ``wav16k/`` when the manifest is absent."""
    path = corpus / "manifest.csv"
    if path.exists():
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))
    rows = []
    for wav in sorted((corpus / "wav16k").rglob("*.wav")):
        kind = wav.relative_to(corpus / "wav16k").parts[0]
        rows.append({"path": str(wav.relative_to(corpus)), "kind": kind,
                     "wav16k_path": str(wav.relative_to(corpus))})
    for vid in sorted((corpus / "video").rglob("*.mp4")) if (corpus / "video").exists() else []:
        rows.append({"path": str(vid.relative_to(corpus)), "kind": "video", "wav16k_path": ""})
    return rows


def split_of(name: str) -> str:
    """'cal' or 'bench', stable across runs and machines."""
    return "cal" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "bench"


def _load(corpus: Path, row: dict[str, str]) -> NDArray[np.float32]:
    from retrieval.media_io import read_audio

    rel = row.get("wav16k_path") or row["path"]
    return read_audio(corpus / rel, sample_rate=SR, max_s=600.0)


def white(n: int, rng: np.random.Generator) -> NDArray[np.float32]:
    return rng.standard_normal(n).astype(np.float32)


def pink(n: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """1/f noise by spectral shaping of white noise."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size, dtype=np.float64)
    f[0] = 1.0
    out = np.fft.irfft(spec / np.sqrt(f), n)
    return (out / (out.std() + 1e-12)).astype(np.float32)


def synthetic_music(n: int, rng: np.random.Generator, sr: int = SR) -> NDArray[np.float32]:
    """Melody + chords with harmonic partials and exponential decays, plus noise-burst drums."""
    out = np.zeros(n, np.float64)
    bpm = rng.uniform(70, 170)
    beat = int(sr * 60 / bpm / 2)
    root = rng.integers(40, 52)
    scale = root + np.array([0, 2, 4, 5, 7, 9, 11, 12, 14, 16])
    t = 0
    while t < n:
        dur = beat * int(rng.choice([1, 1, 2, 2, 4]))
        seg = min(dur, n - t)
        tt = np.arange(seg) / sr
        notes = [int(rng.choice(scale)) + 12]
        if rng.random() < 0.5:  # a chord under the melody note
            notes += [int(rng.choice(scale)) for _ in range(2)]
        for midi in notes:
            f0 = 440.0 * 2 ** ((midi - 69) / 12)
            env = np.exp(-tt * rng.uniform(1.0, 6.0))
            for k in range(1, 6):
                if f0 * k < sr / 2:
                    out[t : t + seg] += env * np.sin(2 * np.pi * f0 * k * tt) / k**1.3
        if rng.random() < 0.6:
            m = min(seg, int(0.05 * sr))
            out[t : t + m] += rng.standard_normal(m) * np.exp(-np.arange(m) / (0.01 * sr)) * 0.5
        t += dur
    return (out / (np.abs(out).max() + 1e-9) * 0.5).astype(np.float32)


def _concat(pool: list[NDArray[np.float32]], n: int, rng: np.random.Generator) -> NDArray[np.float32]:
    parts, have = [], 0
    while have < n:
        clip = pool[int(rng.integers(len(pool)))]
        if clip.size > n - have:
            start = int(rng.integers(0, clip.size - (n - have) + 1))
            clip = clip[start : start + n - have]
        gap = np.zeros(int(rng.integers(0, SR // 4)), np.float32)
        parts += [clip / (np.abs(clip).max() + 1e-9) * rng.uniform(0.2, 0.9), gap]
        have += clip.size + gap.size
    return np.concatenate(parts)[:n].astype(np.float32)


class _Pools:
    """Decoded non-reference audio of one split, loaded once."""

    def __init__(self, corpus: Path, split: str, max_files: int = 400) -> None:
        rows = read_manifest(corpus)
        self.speech: list[NDArray[np.float32]] = []
        self.events: list[NDArray[np.float32]] = []
        self.videos: list[NDArray[np.float32]] = []
        picked = {"speech": 0, "events": 0}
        rng = np.random.default_rng(0 if split == "cal" else 1)
        order = rng.permutation(len(rows))
        for i in order:
            row = rows[int(i)]
            kind = row["kind"]
            if kind == "music" or (split_of(row["path"]) != split and kind != "video"):
                continue
            pool = {"speech": "speech", "speech_synthetic": "speech", "audio_event": "events"}.get(kind)
            try:
                if pool and picked[pool] < max_files:
                    audio = _load(corpus, row)
                    if audio.size >= SR // 4:
                        (self.speech if pool == "speech" else self.events).append(audio)
                        picked[pool] += 1
                elif kind == "video" and row["path"].endswith(".mp4"):
                    audio = _load(corpus, {"path": row["path"]})
                    half = audio.size // 2  # first half calibrates, second half is benchmarked
                    part = audio[:half] if split == "cal" else audio[half:]
                    if part.size >= SR:
                        self.videos.append(part)
            except Exception:  # noqa: BLE001 - a bad corpus file only shrinks the pool
                continue


def null_excerpts(corpus: Path, split: str, n: int, length_s: float, seed: int = 0,
                  pools: _Pools | None = None) -> Iterator[NullExcerpt]:
    """``n`` excerpts of ``length_s`` seconds, cycling over the source kinds."""
    pools = pools or _Pools(corpus, split)
    rng = np.random.default_rng([seed, int(length_s * 1000), 0 if split == "cal" else 1])
    m = int(length_s * SR)
    kinds = ["speech", "events", "video", "music_synth", "white", "pink", "tone_hum", "speech"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "video" and pools.videos:
            v = pools.videos[int(rng.integers(len(pools.videos)))]
            if v.size > m:
                s = int(rng.integers(0, v.size - m))
                yield NullExcerpt("video", "video soundtrack", v[s : s + m])
                continue
            kind = "speech"
        if kind == "speech" and pools.speech:
            yield NullExcerpt("speech", "concatenated speech", _concat(pools.speech, m, rng))
        elif kind == "events" and pools.events:
            yield NullExcerpt("events", "concatenated sound events", _concat(pools.events, m, rng))
        elif kind == "white":
            yield NullExcerpt("noise", "white noise", white(m, rng) * 0.1)
        elif kind == "pink":
            yield NullExcerpt("noise", "pink noise", pink(m, rng) * 0.1)
        elif kind == "tone_hum":
            tt = np.arange(m) / SR
            f = rng.uniform(200, 2000)
            x = 0.3 * np.sin(2 * np.pi * 50 * tt) + 0.05 * np.sin(2 * np.pi * f * tt) + 0.01 * white(m, rng)
            yield NullExcerpt("tone", "mains hum + steady tone", x.astype(np.float32))
        else:
            yield NullExcerpt("music", "synthetic music", synthetic_music(m, rng))


def calibration_scores(corpus: Path, per_length: int = 300) -> tuple[list[float], str]:
    """Best match score of each calibration-split null excerpt against an index of all corpus music."""
    from plugins.audio_fingerprint import landmarks
    from plugins.audio_fingerprint.index import InMemoryIndex
    from plugins.audio_fingerprint.matcher import match_window
    from retrieval.media_io import read_audio

    rows = [r for r in read_manifest(corpus) if r["kind"] == "music"]
    index = InMemoryIndex()
    for i, row in enumerate(rows):
        audio = read_audio(corpus / (row.get("wav16k_path") or row["path"]), sample_rate=8000)
        fp = landmarks.extract(audio, landmarks.REFERENCE)
        index.add(i, fp.hashes, fp.frames, int(audio.size // landmarks.REFERENCE.hop) + 1)
    index.freeze()
    pools = _Pools(corpus, "cal")
    scores: list[float] = []
    for length in LENGTHS_S:
        for ex in null_excerpts(corpus, "cal", per_length, length, seed=11, pools=pools):
            q = landmarks.extract(_to8k(ex.samples), landmarks.QUERY)
            cands = match_window(q.hashes, q.frames, index)
            scores.append(cands[0].score if cands else float("-inf"))
    note = (f"{len(rows)} reference tracks ({index.total_frames * landmarks.REFERENCE.frame_s / 3600:.2f} h); "
            f"{per_length} null excerpts x lengths {LENGTHS_S} s from the 'cal' split")
    return scores, note


def _to8k(x: NDArray[np.float32]) -> NDArray[np.float32]:
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(x)), SR, 8000).numpy()
