"""Dev-corpus tooling: clip loading, synthetic sirens and mixed test scenes (used by the benchmark and head trainer).

Not imported by the plugin at run time. Scenes are 30 s at 48 kHz: a real background (music excerpt,
concatenated real speech, or looped ambient recordings) with events mixed in at known times and a given SNR
(event RMS over its active part vs background RMS over the same span). Everything is seeded.
Sirens do not exist in the corpus: wail, yelp and hi-lo sirens are synthesised with harmonics, a pass-by
Doppler shift and synthetic reverberation.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from retrieval.media_io import read_audio, write_wav

SR = 48_000
SCENE_S = 30.0
SNRS = (10, 5, 0)
EVAL_CLASSES = ("gunshot", "explosion", "glass_breaking", "siren", "alarm", "scream", "dog", "vehicle", "speech")
#: corpus label prefix -> evaluated class
CORPUS_MAP = {
    "gunshot": "gunshot", "machine_gun": "gunshot", "explosion": "explosion", "glass_break": "glass_breaking",
    "shatter": "glass_breaking", "alarm": "alarm", "scream": "scream", "dog_bark": "dog", "car_engine": "vehicle",
}
AMBIENT_PREFIXES = ("rain", "wind", "running_water")

# ----------------------------------------------------------------------------------------------- corpus


@dataclass
class Clip:
    """A trimmed mono clip at 48 kHz and the class it stands for."""

    cls: str
    name: str
    wave: NDArray[np.float32]


#: original path -> the corpus's 16 kHz WAV copy, used when PyAV cannot open the original
FALLBACK: dict[str, str] = {}


def read_clip(corpus: Path, path: str, sample_rate: int = SR, max_s: float | None = None) -> NDArray[np.float32]:
    """Decode a corpus file; files whose tags PyAV refuses (non-UTF-8 metadata) come from their WAV copy."""
    from retrieval.media_io import DecodeError

    try:
        return read_audio(corpus / path, sample_rate=sample_rate, max_s=max_s)
    except DecodeError:
        if path not in FALLBACK:
            raise
        return read_audio(corpus / FALLBACK[path], sample_rate=sample_rate, max_s=max_s)


def read_manifest(corpus: Path) -> list[dict[str, str]]:
    with open(corpus / "manifest.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def frame_rms(x: NDArray[np.float32], n: int = SR // 100) -> NDArray[np.float32]:
    frames = x[: x.size // n * n].reshape(-1, n)
    return np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-12).astype(np.float32)


def trim(x: NDArray[np.float32], max_s: float) -> NDArray[np.float32]:
    """Cut leading/trailing parts 40 dB below the peak, cap the length, fade the edges (no clicks)."""
    rms = frame_rms(x)
    if rms.size == 0:
        return x
    active = np.flatnonzero(rms >= rms.max() * 0.01)
    n = SR // 100
    x = x[active[0] * n : (active[-1] + 1) * n]
    x = x[: int(max_s * SR)].copy()
    fade_in, fade_out = min(x.size, int(0.005 * SR)), min(x.size, int(0.05 * SR))
    x[:fade_in] *= np.linspace(0, 1, fade_in, dtype=np.float32)
    x[x.size - fade_out :] *= np.linspace(1, 0, fade_out, dtype=np.float32)
    return x


def active_rms(x: NDArray[np.float32]) -> float:
    """RMS over the frames within 20 dB of the loudest one (the 'active' part of an event)."""
    rms = frame_rms(x)
    if rms.size == 0:
        return float(np.sqrt(np.mean(x**2) + 1e-12))
    act = rms[rms >= rms.max() * 0.1]
    return float(np.sqrt(np.mean(act**2)))


def load_corpus(corpus: Path) -> dict[str, Any]:
    """Event clips per class, music tracks, speech clips and ambient clips, split in two halves each."""
    rows = read_manifest(corpus)
    events: dict[str, list[Clip]] = defaultdict(list)
    music, speech, ambient = [], [], []
    for row in sorted(rows, key=lambda r: r["path"]):
        if Path(row["path"]).suffix.lower() not in (".ogg", ".oga", ".wav", ".flac", ".mp3", ".opus"):
            row["path"] = row["wav16k_path"]  # tracker modules etc.: the corpus's 16 kHz WAV rendering
        FALLBACK[row["path"]] = row["wav16k_path"]
        kind, label = row["kind"], row["label"]
        if kind == "audio_event":
            prefix = label.split("__")[0].split(":")[0]
            cls = next((c for p, c in CORPUS_MAP.items() if prefix.startswith(p)), None)
            if cls is None and not prefix.startswith(AMBIENT_PREFIXES):
                continue
            wave = read_clip(corpus, row["path"], max_s=120)
            if cls is None:
                ambient.append(Clip("ambient", row["path"], wave))
            else:
                events[cls].append(Clip(cls, row["path"], trim(wave, 4.0 if cls != "vehicle" else 5.0)))
        elif kind == "music" and float(row.get("duration_s") or 0) >= SCENE_S:
            music.append((row["path"], float(row["duration_s"])))
        elif kind == "speech" and float(row.get("duration_s") or 0) >= 0.8:
            speech.append((row["path"], float(row["duration_s"])))
    # speech as an event (on music / ambient backgrounds only): the longer real utterances
    events["speech"] = [
        Clip("speech", path, trim(read_clip(corpus, path, max_s=6), 4.0)) for path, sec in speech if sec >= 1.5
    ][:40]
    return {"events": events, "music": music, "speech": speech, "ambient": ambient}


def halves(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """Even positions -> calibration, odd -> test; a single item serves both (said in the report)."""
    if len(items) < 2:
        return items, items
    return items[0::2], items[1::2]


# ----------------------------------------------------------------------------------------------- sirens


def synth_siren(kind: str, seconds: float, rng: np.random.Generator) -> NDArray[np.float32]:
    """Wail / yelp / hi-lo siren with harmonics, pass-by Doppler and reverberation (synthetic, stated as such)."""
    t = np.arange(int(seconds * SR)) / SR
    if kind == "wail":  # slow up/down sweep, 4-6 s period
        period, lo, hi = rng.uniform(3.5, 6.0), rng.uniform(550, 700), rng.uniform(1300, 1600)
        f_src = lo + (hi - lo) * (0.5 - 0.5 * np.cos(2 * np.pi * t / period))
    elif kind == "yelp":  # fast sweep, 0.25-0.4 s period
        period, lo, hi = rng.uniform(0.25, 0.4), rng.uniform(600, 750), rng.uniform(1400, 1700)
        f_src = lo + (hi - lo) * ((t / period) % 1.0)
    else:  # hi-lo two-tone (e.g. 960/770 Hz), 0.4-0.6 s per tone
        half, f1 = rng.uniform(0.4, 0.6), rng.uniform(900, 1000)
        f_src = np.where(((t / half) % 2.0) < 1.0, f1, f1 * 0.8)
    phase = 2 * np.pi * np.cumsum(f_src) / SR
    # pass-by: source at speed v on a straight line, closest distance d at time t0; emission time tau = t - r/c
    v, d, t0, c = rng.uniform(8, 25), rng.uniform(5, 25), rng.uniform(0.2, 0.8) * seconds, 343.0
    r = np.sqrt((v * (t - t0)) ** 2 + d**2)
    tau = np.clip(t - (r - d) / c, 0, t[-1])
    ph = np.interp(tau, t, phase)
    harmonics = (1.0, 0.5, 0.33, 0.2, 0.12) if kind != "wail" else (1.0, 0.3, 0.12)
    y = sum(a * np.sin((k + 1) * ph) for k, a in enumerate(harmonics)) * (d / r)
    # reverberation: exponentially decaying noise impulse response, RT60 0.3-0.9 s
    rt60 = rng.uniform(0.3, 0.9)
    n_ir = int(rt60 * SR)
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * np.arange(n_ir) / n_ir)
    ir *= rng.uniform(0.1, 0.4) / np.sqrt(np.sum(ir**2))
    ir[0] = 1.0
    from scipy.signal import fftconvolve

    y = fftconvolve(y, ir)[: t.size]
    y = y / (np.max(np.abs(y)) + 1e-9) * 0.5
    return trim(y.astype(np.float32), seconds)


# ----------------------------------------------------------------------------------------------- scenes


@dataclass
class Scene:
    """A mixed scene: file, background type, SNR, and reference events (class, onset, offset)."""

    path: Path
    background: str
    snr: int
    refs: list[tuple[str, float, float]]


def background_wave(kind: str, pools: dict[str, Any], corpus: Path, rng: np.random.Generator) -> NDArray[np.float32]:
    """30 s of real background: a music excerpt, concatenated speech clips, or looped ambient recordings."""
    n = int(SCENE_S * SR)
    if kind == "music":
        track, _ = pools["music"][rng.integers(len(pools["music"]))]
        wave = read_clip(corpus, track, max_s=200)
        start = int(rng.integers(0, max(1, wave.size - n)))
        out = wave[start : start + n]
    elif kind == "speech":
        parts, total = [], 0
        while total < n:
            path, _ = pools["speech"][rng.integers(len(pools["speech"]))]
            clip = read_clip(corpus, path, max_s=20)
            gap = np.zeros(int(rng.uniform(0.1, 0.6) * SR), np.float32)
            clip = clip / (active_rms(clip) + 1e-9) * 0.05
            parts += [clip, gap]
            total += clip.size + gap.size
        out = np.concatenate(parts)[:n]
    else:
        parts, total = [], 0
        while total < n:
            clip = pools["ambient"][rng.integers(len(pools["ambient"]))].wave
            clip = clip / (active_rms(clip) + 1e-9) * 0.05
            parts.append(clip)
            total += clip.size
        out = np.concatenate(parts)[:n]
    out = np.pad(out, (0, n - out.size)).astype(np.float32)
    return out


def make_scenes(
    split: str, pools: dict[str, Any], corpus: Path, out_dir: Path, n_per_snr: int, seed: int
) -> list[Scene]:
    """Scenes of one split; classes are drawn round-robin so that each gets about the same number of events."""
    rng = np.random.default_rng(seed)
    scenes: list[Scene] = []
    classes = [c for c in EVAL_CLASSES if c == "siren" or pools["events"].get(c)]
    turn = int(rng.integers(len(classes)))
    backgrounds = ("music", "speech", "ambient") if pools["ambient"] else ("music", "speech")
    for snr in SNRS:
        for k in range(n_per_snr):
            bg_kind = backgrounds[k % len(backgrounds)]
            bg = background_wave(bg_kind, pools, corpus, rng)
            mix = bg.copy()
            refs: list[tuple[str, float, float]] = []
            t = float(rng.uniform(1.0, 2.5))
            while True:
                cls = classes[turn % len(classes)]
                turn += 1
                if cls == "speech" and bg_kind == "speech":
                    cls = classes[turn % len(classes)]
                    turn += 1
                if cls == "siren":
                    ev = synth_siren(("wail", "yelp", "hilo")[int(rng.integers(3))], float(rng.uniform(3, 5)), rng)
                else:
                    ev = pools["events"][cls][rng.integers(len(pools["events"][cls]))].wave
                dur = ev.size / SR
                if t + dur > SCENE_S - 1.0:
                    break
                a, b = int(t * SR), int(t * SR) + ev.size
                bg_rms = float(np.sqrt(np.mean(bg[a:b] ** 2)))
                if bg_rms < 1e-4:
                    bg_rms = float(np.sqrt(np.mean(bg**2))) or 1e-3
                gain = bg_rms / (active_rms(ev) + 1e-9) * 10 ** (snr / 20)
                mix[a:b] += gain * ev
                refs.append((cls, round(t, 3), round(t + dur, 3)))
                t += dur + float(rng.uniform(1.5, 4.0))
            peak = float(np.max(np.abs(mix)))
            if peak > 0.99:
                mix *= 0.99 / peak
            path = out_dir / f"{split}_{snr}dB_{k:03d}_{bg_kind}.wav"
            write_wav(path, mix, SR)
            scenes.append(Scene(path, bg_kind, snr, refs))
    return scenes


def fa_streams(split: str, pools: dict[str, Any], corpus: Path, out_dir: Path, minutes: float) -> dict[str, list[Path]]:
    """Background-only recordings for false alarms: whole music tracks and 5-minute speech concatenations."""
    out: dict[str, list[Path]] = {"music": [], "speech": []}
    total = 0.0
    for track, seconds in pools["music"]:
        if total >= minutes * 60:
            break
        out["music"].append(corpus / track)
        total += seconds
    rng = np.random.default_rng(7)
    total = 0.0
    k = 0
    while total < minutes * 60:
        parts, n = [], 0
        while n < 300 * SR:
            path, _ = pools["speech"][rng.integers(len(pools["speech"]))]
            clip = read_clip(corpus, path, max_s=20)
            parts += [clip / (active_rms(clip) + 1e-9) * 0.05, np.zeros(int(rng.uniform(0.1, 0.6) * SR), np.float32)]
            n += parts[-1].size + parts[-2].size
        wave = np.concatenate(parts)
        path = out_dir / f"{split}_speech_{k:02d}.wav"
        write_wav(path, np.clip(wave, -0.99, 0.99), SR)
        out["speech"].append(path)
        total += wave.size / SR
        k += 1
    return out
