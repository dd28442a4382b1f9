"""Benchmark: audio fingerprinting (mmsec landmarks vs audfprint2 vs Chromaprint fpcalc + offset search).

Usage::

    .venv/bin/python bench/audio_fingerprint.py /work/corpus [--queries 300] [--negatives 200]

Protocol (issue 4):
- reference set: every ``kind=music`` item of the dev corpus (its 16 kHz WAV);
- positive queries: ``--queries`` excerpts at random positions (redrawn while the
  excerpt's RMS is below -46 dBFS), lengths 1/2/3/5/10 s (round robin), each under
  9 conditions: clean, MP3 64 kbit/s, white and pink noise at 10/5/0 dB SNR,
  8 kHz telephone band (300-3400 Hz, G.711 mu-law);
- negatives: ``--negatives`` excerpts of non-reference audio (the 'bench' half of
  ``plugins.audio_fingerprint.nullset``; the calibration used the other half),
  each cut to every query length;
- every system reads the same WAV files, in the same run. Thresholds: mmsec uses
  its shipped calibration; each peer gets a threshold chosen the same way (same
  target false-positive rate on the same 'cal' null audio);
- a query is correct when the system's top answer passes its threshold and
  names the right track; offset error is |reference start - truth| for those;
- latency: wall time per query from WAV path to decision (decode included),
  one thread; ingest: CPU seconds per second of reference audio (x real time per core);
- mmsec latency is also measured with ``--big-hours`` of synthetic reference
  hashes loaded (drawn from the corpus hash distribution) next to the corpus;
- bad input (``--bad-input``): silence, clipping, mono/stereo/5.1, 8-96 kHz, 0.3 s,
  a 10-h file and corrupt containers through ``AudioFingerprintPlugin.process``
  and ``scan``, each in a fresh process: status, wall time, peak RSS.

Writes ``docs/benchmarks/audio_fingerprint.json`` and prints a Markdown report.
"""

from __future__ import annotations

import abc
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.audio_fingerprint import landmarks as L  # noqa: E402
from plugins.audio_fingerprint.calibration import Calibration, fit, load_default  # noqa: E402
from plugins.audio_fingerprint.index import InMemoryIndex  # noqa: E402
from plugins.audio_fingerprint.matcher import MatchParams, match_window  # noqa: E402
from plugins.audio_fingerprint.nullset import LENGTHS_S, SR, _Pools, null_excerpts, pink, read_manifest, white  # noqa: E402
from retrieval.media_io import read_audio, write_wav  # noqa: E402

CONDITIONS = ("clean", "mp3_64k", "white_10db", "white_5db", "white_0db", "pink_10db", "pink_5db", "pink_0db",
              "telephone_8k")
TARGET_FPR = 0.005


# ---------------------------------------------------------------------------- queries


@dataclass
class Query:
    qid: str
    path: Path
    length_s: float
    condition: str
    track: int | None  # None for negatives
    start_s: float = 0.0
    kind: str = ""


def _mp3_roundtrip(x: NDArray[np.float32], tmp: Path) -> NDArray[np.float32]:
    src, mp3 = tmp / "in.wav", tmp / "enc.mp3"
    write_wav(src, x, SR)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-c:a", "libmp3lame", "-b:a", "64k",
                    str(mp3)], check=True)
    y = read_audio(mp3, sample_rate=SR)
    out = np.zeros_like(x)
    out[: min(x.size, y.size)] = y[: x.size]
    return out


def _add_noise(x: NDArray[np.float32], snr_db: float, color: str, rng: np.random.Generator) -> NDArray[np.float32]:
    noise = white(x.size, rng) if color == "white" else pink(x.size, rng)
    ps = float(np.mean(x.astype(np.float64) ** 2)) + 1e-12
    pn = float(np.mean(noise.astype(np.float64) ** 2)) + 1e-12
    y = x + noise * np.sqrt(ps / pn / 10 ** (snr_db / 10))
    peak = float(np.abs(y).max())
    return (y / peak * 0.99 if peak > 0.99 else y).astype(np.float32)


def _telephone(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """300-3400 Hz band, 8 kHz, G.711 mu-law quantisation."""
    from scipy.signal import butter, resample_poly, sosfilt

    sos = butter(6, [300, 3400], btype="bandpass", fs=SR, output="sos")
    y = resample_poly(sosfilt(sos, x), 1, 2)
    mu = 255.0
    y = np.clip(y, -1, 1)
    c = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
    c = np.round(c * 127) / 127
    return (np.sign(c) * ((1 + mu) ** np.abs(c) - 1) / mu).astype(np.float32)


def _cached(path: Path, make: Callable[[], list[Query]]) -> list[Query]:
    """Queries are deterministic (seeded); keep their list so per-system runs share the same files."""
    if path.exists():
        return [Query(**{**d, "path": Path(d["path"])}) for d in json.loads(path.read_text())]
    qs = make()
    path.write_text(json.dumps([{**q.__dict__, "path": str(q.path)} for q in qs]))
    return qs


def make_queries(refs: list[dict], ref_audio: Callable[[int], NDArray[np.float32]], corpus: Path, qdir: Path,
                 n_pos: int, n_neg: int, seed: int) -> list[Query]:
    rng = np.random.default_rng(seed)
    out: list[Query] = []
    tmp = Path(tempfile.mkdtemp(dir=qdir))
    for i in range(n_pos):
        length = LENGTHS_S[i % len(LENGTHS_S)]
        track = int(rng.integers(len(refs)))
        x = ref_audio(track)
        for _ in range(50):  # an audible excerpt: a silent one identifies nothing, for any system
            start = int(rng.integers(0, x.size - int(length * SR)))
            clip = x[start : start + int(length * SR)]
            if float(np.sqrt(np.mean(clip.astype(np.float64) ** 2))) >= 0.005:
                break
        for cond in CONDITIONS:
            if cond == "clean":
                y, sr = clip, SR
            elif cond == "mp3_64k":
                y, sr = _mp3_roundtrip(clip, tmp), SR
            elif cond == "telephone_8k":
                y, sr = _telephone(clip), 8000
            else:
                color, snr = cond.split("_")
                y, sr = _add_noise(clip, float(snr[:-2]), color, rng), SR
            p = qdir / f"pos{i:04d}_{cond}.wav"
            write_wav(p, y, sr)
            out.append(Query(p.stem, p, length, cond, track, start / SR))
    pools = _Pools(corpus, "bench")
    negs = list(null_excerpts(corpus, "bench", n_neg, max(LENGTHS_S), seed=seed + 7, pools=pools))
    for j, ex in enumerate(negs):
        for length in LENGTHS_S:
            p = qdir / f"neg{j:04d}_{int(length)}s.wav"
            write_wav(p, ex.samples[: int(length * SR)], SR)
            out.append(Query(p.stem, p, length, "negative", None, 0.0, ex.kind))
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def make_cal_queries(corpus: Path, qdir: Path, per_length: int, seed: int) -> list[Query]:
    """Null queries from the calibration split, for choosing peer thresholds like mmsec's."""
    pools = _Pools(corpus, "cal")
    out = []
    for length in LENGTHS_S:
        for j, ex in enumerate(null_excerpts(corpus, "cal", per_length, length, seed=seed + 3, pools=pools)):
            p = qdir / f"cal{j:04d}_{int(length)}s.wav"
            write_wav(p, ex.samples, SR)
            out.append(Query(p.stem, p, length, "cal", None, 0.0, ex.kind))
    return out


# ---------------------------------------------------------------------------- systems


@dataclass
class Answer:
    track: int | None
    score: float
    offset_s: float | None
    latency_s: float
    cpu_s: float = 0.0


@dataclass
class System(abc.ABC):
    """One fingerprinting system under test (mmsec or a peer), compared on the same queries."""

    name: str
    ingest_cpu_s: float = 0.0
    storage_bytes: int = 0
    storage_note: str = ""
    threshold: float = 0.0
    threshold_note: str = ""
    extra: dict = field(default_factory=dict)

    @abc.abstractmethod
    def ingest(self, paths: list[Path], hours: float) -> None:
        """Index the reference recordings."""

    @abc.abstractmethod
    def query(self, path: Path) -> Answer:
        """Identify one excerpt."""


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Mmsec(System):
    def __init__(self, calibration: Calibration) -> None:
        super().__init__("mmsec")
        self.cal = calibration
        self.index = InMemoryIndex()
        self.params = MatchParams()
        self.threshold = calibration.threshold
        self.threshold_note = f"shipped calibration.json (target FPR {calibration.target_fpr:.3%})"

    def ingest(self, paths: list[Path], hours: float) -> None:
        c0 = _cpu()
        for i, p in enumerate(paths):
            blocks = L.stream(_iter(p), L.REFERENCE)
            fp = L.concat(blocks, L.REFERENCE)
            self.index.add(i, fp.hashes, fp.frames, int(round(fp.duration_s / L.REFERENCE.frame_s)) + 1)
        self.index.freeze()
        self.ingest_cpu_s = _cpu() - c0
        self.storage_bytes = self.index.n_postings * 4
        self.extra["postings"] = self.index.n_postings
        self.extra["hashes_per_s"] = self.index.n_postings / (hours * 3600)
        # README layout: one row per hash value, postings packed 8 B each; ~56 B of row + btree per value.
        self.extra["pg_bytes_per_hour_at_1000h_est"] = 8 * self.extra["hashes_per_s"] * 3600 + 56 * L.HASH_SPACE / 1000
        self.storage_note = "in-memory postings (4 B/hash, + fixed 8 MiB CSR offsets)"

    def query(self, path: Path) -> Answer:
        t0 = time.perf_counter()
        fp = L.concat(L.stream(_iter(path), L.QUERY), L.QUERY)
        cands = match_window(fp.hashes, fp.frames, self.index, self.params, self.cal, frame0=0)
        dt = time.perf_counter() - t0
        if not cands:
            return Answer(None, float("-inf"), None, dt)
        c = cands[0]
        return Answer(c.track_id, c.score, c.offset * L.QUERY.frame_s, dt)


def _iter(path: Path):
    from retrieval.media_io import iter_audio

    return iter_audio(path, sample_rate=L.REFERENCE.sample_rate, chunk_s=30.0)


class Audfprint(System):
    """audfprint2 in-process with its CLI defaults (density 20, fanout 3, 4 query shifts, 20-bit table)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__("audfprint2")
        from audfprint2 import cli
        from audfprint2.core import hash_table

        self.ana_ref = cli.setup_analyzer(20.0, False, 5, 3, 30.0, 0, 11025, True, None)
        self.ana_q = cli.setup_analyzer(20.0, True, 5, 3, 30.0, 0, 11025, True, None)
        self.matcher = cli.setup_matcher(2, 100, 1, 1, False, False, 0.02, False, False, False)
        self.ht = hash_table.HashTable(hashbits=20, depth=100, maxtime=16384)
        self.workdir = workdir
        self.threshold = 5
        self.frame_s = 256 / 11025

    def ingest(self, paths: list[Path], hours: float) -> None:
        c0 = _cpu()
        for p in paths:
            self.ana_ref.ingest(self.ht, str(p))
        self.ingest_cpu_s = _cpu() - c0
        db = self.workdir / "audfprint.pklz"
        self.ht.save(str(db))
        self.storage_bytes = db.stat().st_size
        self.storage_note = f"saved .pklz (RAM table is fixed {self.ht.table.nbytes / 2**20:.0f} MiB)"
        self.names = {n: i for i, n in enumerate(self.ht.names)}
        self.extra["hashes_stored"] = int(sum(self.ht.hashesperid))

    def query(self, path: Path) -> Answer:
        t0 = time.perf_counter()
        res, _, _ = self.matcher.match_file(self.ana_q, self.ht, str(path))
        dt = time.perf_counter() - t0
        if len(res) == 0:
            return Answer(None, 0.0, None, dt)
        tid, count, toff = int(res[0][0]), float(res[0][1]), int(res[0][2])
        return Answer(tid, count, toff * self.frame_s, dt)


class Chromaprint(System):
    """fpcalc -raw fingerprints, exhaustive offset search by bit error rate (score = 1 - BER)."""

    item_s = 4096 / 3 / 11025  # chromaprint's default algorithm: one 32-bit item every 1365 samples

    def __init__(self) -> None:
        super().__init__("chromaprint")
        self.refs: list[NDArray[np.uint32]] = []

    @staticmethod
    def _fp(path: Path) -> NDArray[np.uint32]:
        # fpcalc exits non-zero with "Error decoding audio frame (End of file)" on complete WAV files,
        # after printing a good fingerprint: judge by the output, not the exit status.
        r = subprocess.run(["fpcalc", "-raw", "-json", "-length", "0", str(path)], capture_output=True, text=True)
        try:
            items = json.loads(r.stdout).get("fingerprint", [])
        except json.JSONDecodeError:
            return np.zeros(0, np.uint32)
        return np.asarray(items, np.int64).astype(np.uint32)

    def ingest(self, paths: list[Path], hours: float) -> None:
        c0 = _cpu()
        self.refs = [self._fp(p) for p in paths]
        self.ingest_cpu_s = _cpu() - c0
        self.storage_bytes = 4 * sum(r.size for r in self.refs)
        self.storage_note = "raw 32-bit items (int4[] per track)"

    def query(self, path: Path) -> Answer:
        t0 = time.perf_counter()
        q = self._fp(path)
        best = (None, 0.0, None)
        if q.size >= 1:
            for tid, r in enumerate(self.refs):
                if r.size < q.size:
                    continue
                win = np.lib.stride_tricks.sliding_window_view(r, q.size)
                ber = np.bitwise_count(win ^ q).sum(axis=1) / (32.0 * q.size)
                k = int(np.argmin(ber))
                if 1.0 - ber[k] > best[1]:
                    best = (tid, 1.0 - float(ber[k]), k * self.item_s)
        return Answer(best[0], best[1], best[2], time.perf_counter() - t0)


# ---------------------------------------------------------------------------- evaluation


def run_queries(system: System, queries: list[Query]) -> list[Answer]:
    """Answers in order; ``cpu_s`` is CPU time (self + children), robust to other load on the machine."""
    out = []
    for q in queries:
        c0 = _cpu()
        try:
            a = system.query(q.path)
        except Exception as exc:  # noqa: BLE001 - a failing query is a miss, not a crashed benchmark
            print(f"  {system.name}: {q.qid} failed: {exc}", file=sys.stderr)
            a = Answer(None, float("-inf"), None, 0.0)
        a.cpu_s = _cpu() - c0
        out.append(a)
    return out


def peer_threshold(system: System, cal_queries: list[Query]) -> None:
    scores = [a.score if a.track is not None else -1e9 for a in run_queries(system, cal_queries)]
    c = fit(scores, TARGET_FPR)
    system.threshold = c.threshold
    system.threshold_note = f"fitted on {len(scores)} 'cal' null queries (target FPR {TARGET_FPR:.1%})"


def evaluate(system: System, queries: list[Query], answers: list[Answer]) -> dict:
    cells: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    fp_by_len: dict[str, list[int]] = defaultdict(list)
    wrong = 0
    offs = []
    lat = [a.latency_s for a in answers]
    cpu = [a.cpu_s for a in answers]
    for q, a in zip(queries, answers, strict=True):
        accepted = a.track is not None and a.score >= system.threshold
        if q.track is None:
            fp_by_len[f"{q.length_s:g}"].append(int(accepted))
            continue
        ok = accepted and a.track == q.track
        wrong += int(accepted and a.track != q.track)
        cells[f"{q.length_s:g}"][q.condition].append(int(ok))
        if ok and a.offset_s is not None:
            offs.append(abs(a.offset_s - q.start_s))
    acc = {ln: {c: float(np.mean(v)) for c, v in conds.items()} for ln, conds in cells.items()}
    n_pos = sum(len(v) for conds in cells.values() for v in conds.values())
    return {
        "accuracy": acc,
        "n_per_cell": {ln: {c: len(v) for c, v in conds.items()} for ln, conds in cells.items()},
        "false_positive_rate": {ln: float(np.mean(v)) for ln, v in fp_by_len.items()},
        "n_negatives_per_length": {ln: len(v) for ln, v in fp_by_len.items()},
        "wrong_track_rate_positives": wrong / max(1, n_pos),
        "offset_error_s": {"median": float(np.median(offs)) if offs else None,
                           "p95": float(np.quantile(offs, 0.95)) if offs else None,
                           "max": float(np.max(offs)) if offs else None},
        "latency_s": {"p50": float(np.quantile(lat, 0.5)), "p95": float(np.quantile(lat, 0.95))},
        "latency_cpu_s": {"p50": float(np.quantile(cpu, 0.5)), "p95": float(np.quantile(cpu, 0.95))},
        "threshold": system.threshold,
        "threshold_note": system.threshold_note,
    }


def big_index_latency(mm: Mmsec, hours: float, queries: list[Query], seed: int) -> dict:
    """Load ``hours`` of synthetic postings (corpus hash distribution) next to the corpus and re-time mmsec."""
    rng = np.random.default_rng(seed)
    base = mm.index
    counts = np.diff(base.offsets)
    n_big = int(hours * 3600 * mm.extra["hashes_per_s"])
    t0 = time.perf_counter()
    p = (counts + 0.05) / (counts + 0.05).sum()  # smoothed: hash values unseen in the corpus still occur
    big_counts = rng.multinomial(n_big, p)
    # Synthetic tracks of 4 minutes after the real ones; postings uniform over their frames.
    frames_per_track = int(240 / L.REFERENCE.frame_s)
    n_tracks = int(np.ceil(hours * 3600 / 240))
    start = int(base.bases[-1] + base.lengths[-1] + 4096)
    stride = frames_per_track + 4096
    bases = start + stride * np.arange(n_tracks, dtype=np.int64)
    new_off = np.concatenate(([0], np.cumsum(counts + big_counts))).astype(np.int64)
    post = np.empty(int(new_off[-1]), np.uint32)
    src = base.offsets
    # Fill per hash: old postings then synthetic ones (vectorised in chunks of hash values).
    for lo in range(0, L.HASH_SPACE, 1 << 13):
        hi = lo + (1 << 13)
        a, b = int(new_off[lo]), int(new_off[hi])
        k_old = counts[lo:hi]
        k_new = big_counts[lo:hi]
        seg = np.empty(b - a, np.uint32)
        dst_start = new_off[lo:hi] - a
        old_vals = base.postings[int(src[lo]) : int(src[hi])]
        old_pos = np.repeat(dst_start, k_old) + (np.arange(k_old.sum()) - np.repeat(np.cumsum(k_old) - k_old, k_old))
        seg[old_pos] = old_vals
        n_new = int(k_new.sum())
        tr = rng.integers(0, n_tracks, n_new)
        g = (bases[tr] + rng.integers(0, frames_per_track, n_new)).astype(np.uint32)
        new_pos = (np.repeat(dst_start + k_old, k_new)
                   + (np.arange(n_new) - np.repeat(np.cumsum(k_new) - k_new, k_new)))
        seg[new_pos] = g
        post[a:b] = seg
    big = InMemoryIndex.from_csr(
        new_off, post, np.concatenate([base.bases, bases]),
        np.concatenate([base.track_ids, 10**6 + np.arange(n_tracks)]),
        np.concatenate([base.lengths, np.full(n_tracks, frames_per_track)]))
    build_s = time.perf_counter() - t0
    saved = mm.index
    mm.index = big
    try:
        answers = run_queries(mm, queries)
    finally:
        mm.index = saved
    ev = evaluate(mm, queries, answers)
    res = {"hours_loaded": hours + float(base.total_frames * L.REFERENCE.frame_s / 3600), "postings": int(post.size),
           "index_bytes": big.nbytes(), "build_s": build_s, "n_queries": len(queries),
           "latency_s": ev["latency_s"], "latency_cpu_s": ev["latency_cpu_s"], "accuracy": ev["accuracy"],
           "false_positive_rate": ev["false_positive_rate"]}
    del big, post
    return res


# ---------------------------------------------------------------------------- bad input

_BAD_CHILD = '''
import resource, sys, time, json
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
from plugins.audio_fingerprint import AudioFingerprintPlugin
from plugins.audio_fingerprint.index import InMemoryIndex
from retrieval.plugin_api import Item, MediaKind
p = AudioFingerprintPlugin({}, None)
p.load("cpu")
t0 = time.perf_counter()
path = Path(sys.argv[2])
if sys.argv[3] == "scan":
    occ = p.scan(path, InMemoryIndex())
    out = {"status": f"ok: scanned, {len(occ)} occurrences"}
else:
    [r] = p.process([Item(1, MediaKind.AUDIO, path)])
    out = {"status": ("error: " + r.error) if r.error else "ok: " + r.findings[0].data["status"]
           + f", {r.findings[0].data['n_hashes']} hashes, {r.findings[0].data['duration_s']} s"}
out["wall_s"] = time.perf_counter() - t0
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
'''


def _write_long_wav(path: Path, hours: float, sr: int = 8000) -> None:
    """A long 16-bit WAV written chunk by chunk (music-like tones over noise, never held in memory)."""
    import wave

    rng = np.random.default_rng(0)
    minute = np.arange(60 * sr) / sr
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(sr)
        for m in range(int(hours * 60)):
            f = 200 + 50 * (m % 20)
            x = 0.3 * np.sin(2 * np.pi * f * minute) * (np.sin(2 * np.pi * 0.5 * minute) > 0)
            x = x + 0.02 * rng.standard_normal(minute.size)
            wf.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def bad_inputs(work: Path, long_hours: float = 10.0) -> list[dict]:
    """Run the plugin on hostile files, one fresh process each; never raises."""
    import soundfile as sf

    d = work / "bad"
    d.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(48_000 * 5) / 48_000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    files: list[tuple[str, Path, str]] = []

    def add(name: str, path: Path, mode: str = "process") -> None:
        files.append((name, path, mode))

    sf.write(d / "silence.wav", np.zeros(48_000 * 5, np.float32), 48_000)
    add("silence 5 s", d / "silence.wav")
    sf.write(d / "clipped.wav", np.clip(tone * 20, -1, 1), 48_000)
    add("hard-clipped tone", d / "clipped.wav")
    sf.write(d / "stereo44.wav", np.stack([tone, tone[::-1]], 1)[: 44_100 * 5], 44_100)
    add("stereo 44.1 kHz", d / "stereo44.wav")
    sf.write(d / "surround96.wav", np.repeat(tone[:, None], 6, 1) / 6, 96_000)
    add("5.1 at 96 kHz", d / "surround96.wav")
    sf.write(d / "mono8.wav", tone[::6], 8_000)
    add("mono 8 kHz", d / "mono8.wav")
    sf.write(d / "short.wav", tone[: int(0.3 * 48_000)], 48_000)
    add("0.3 s", d / "short.wav")
    (d / "truncated.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + rng.bytes(4000))
    add("corrupt mp4 (random bytes after ftyp)", d / "truncated.mp4")
    (d / "empty.wav").write_bytes(b"")
    add("empty file", d / "empty.wav")
    good = d / "stereo44.wav"
    (d / "cut.wav").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    add("WAV cut at 1/3 (header says longer)", d / "cut.wav")
    if long_hours > 0:
        _write_long_wav(d / "long.wav", long_hours)
        add(f"{long_hours:g} h WAV, process()", d / "long.wav")
        add(f"{long_hours:g} h WAV, scan()", d / "long.wav", "scan")
    out = []
    for name, path, mode in files:
        r = subprocess.run([sys.executable, "-c", _BAD_CHILD, str(ROOT), str(path), mode], capture_output=True,
                           text=True, timeout=3600)
        try:
            res = json.loads(r.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            res = {"status": f"CRASH rc={r.returncode}: {r.stderr.strip()[-300:]}"}
        res["input"] = name
        out.append(res)
        print(f"  bad input {name}: {res}", file=sys.stderr)
    shutil.rmtree(d, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------- report


def markdown(report: dict) -> str:
    lines = []
    systems = list(report["systems"])
    lines.append("Top-1 accuracy (correct track, above the system's no-match threshold), by length x condition:\n")
    for ln in [f"{x:g}" for x in LENGTHS_S]:
        lines.append(f"**{ln} s**\n")
        lines.append("| condition | " + " | ".join(systems) + " |")
        lines.append("|---|" + "---|" * len(systems))
        for cond in CONDITIONS:
            row = [f"{report['systems'][s]['accuracy'].get(ln, {}).get(cond, float('nan')):.1%}" for s in systems]
            lines.append(f"| {cond} | " + " | ".join(row) + " |")
        lines.append("")
    lines.append("| metric | " + " | ".join(systems) + " |")
    lines.append("|---|" + "---|" * len(systems))

    def row(name: str, fn: Callable[[dict], str]) -> None:
        lines.append(f"| {name} | " + " | ".join(fn(report["systems"][s]) for s in systems) + " |")

    for ln in [f"{x:g}" for x in LENGTHS_S]:
        row(f"false positives, {ln} s", lambda r, ln=ln: f"{r['false_positive_rate'].get(ln, float('nan')):.1%}")
    row("wrong track (positives)", lambda r: f"{r['wrong_track_rate_positives']:.2%}")
    row("offset error median / p95 (ms)", lambda r: (
        f"{1000 * r['offset_error_s']['median']:.0f} / {1000 * r['offset_error_s']['p95']:.0f}"
        if r["offset_error_s"]["median"] is not None else "n/a"))
    row("query latency p50 / p95 (ms CPU), corpus DB", lambda r: (
        f"{1000 * r['latency_cpu_s']['p50']:.0f} / {1000 * r['latency_cpu_s']['p95']:.0f}"))
    row("query latency p50 / p95 (ms wall, contended), corpus DB", lambda r: (
        f"{1000 * r['latency_s']['p50']:.0f} / {1000 * r['latency_s']['p95']:.0f}"))
    row("ingest (x real time per core)", lambda r: f"{r['ingest_x_realtime_per_core']:.0f}x")
    row("storage (MB per hour of reference)", lambda r: f"{r['storage_mb_per_hour']:.2f}")
    row("threshold", lambda r: f"{r['threshold']:.3g}")
    big = report.get("mmsec_big_index")
    if big:
        lines.append("")
        lines.append(f"mmsec with {big['hours_loaded']:.0f} h of reference hashes loaded "
                     f"({big['postings'] / 1e6:.0f} M postings, {big['index_bytes'] / 2**30:.2f} GiB in RAM): "
                     f"latency p50 / p95 {1000 * big['latency_cpu_s']['p50']:.0f} / "
                     f"{1000 * big['latency_cpu_s']['p95']:.0f} ms CPU "
                     f"({1000 * big['latency_s']['p50']:.0f} / {1000 * big['latency_s']['p95']:.0f} ms wall, "
                     f"contended) over {big['n_queries']} queries (5 and 10 s + negatives); "
                     f"false positives " + ", ".join(f"{k} s {v:.1%}" for k, v in big["false_positive_rate"].items()))
    if report.get("bad_input"):
        lines.append("")
        lines.append("Bad input (mmsec plugin, one fresh process each, 1 thread):\n")
        lines.append("| input | result | wall (s) | peak RSS (MB) |")
        lines.append("|---|---|---|---|")
        for b in report["bad_input"]:
            lines.append(f"| {b['input']} | {b['status']} | {b.get('wall_s', float('nan')):.1f} | "
                         f"{b.get('peak_rss_mb', float('nan')):.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="audio fingerprint benchmark")
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--negatives", type=int, default=200)
    ap.add_argument("--cal-per-length", type=int, default=100, help="null queries per length for peer thresholds")
    ap.add_argument("--systems", default="mmsec,audfprint2,chromaprint")
    ap.add_argument("--big-hours", type=float, default=1000.0)
    ap.add_argument("--big-queries", type=int, default=400)
    ap.add_argument("--bad-input", action="store_true", help="also run the bad-input checks (10-h file: slow)")
    ap.add_argument("--bad-input-only", action="store_true", help="only the bad-input checks, merged into --out")
    ap.add_argument("--long-hours", type=float, default=10.0)
    ap.add_argument("--merge", type=Path, nargs="+", help="merge per-system JSON reports into --out and print")
    ap.add_argument("--pos-subset", type=int, default=None, help="evaluate only the first N positive excerpts")
    ap.add_argument("--neg-subset", type=int, default=None, help="... and the first M negative excerpts")
    ap.add_argument("--cal-subset", type=int, default=None, help="... and the first K 'cal' queries per length")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs/benchmarks/audio_fingerprint.json")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="afp_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    if args.merge:
        report = json.loads(args.merge[0].read_text())
        for extra in args.merge[1:]:
            other = json.loads(extra.read_text())
            report["systems"].update(other["systems"])
            for k in ("mmsec_big_index", "bad_input", "bad_input_command"):
                if k in other:
                    report[k] = other[k]
            report["command"] += " ; " + (other.get("command") or other.get("bad_input_command", ""))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
        print(markdown(report))
        return
    if args.bad_input_only:
        report = json.loads(args.out.read_text()) if args.out.exists() else {"systems": {}}
        report["bad_input"] = bad_inputs(work, args.long_hours)
        report["bad_input_command"] = " ".join(["bench/audio_fingerprint.py", *(argv or sys.argv[1:])])
        args.out.write_text(json.dumps(report, indent=1) + "\n")
        print(markdown(report))
        return
    qdir = work / "queries"
    qdir.mkdir(exist_ok=True)
    refs = [r for r in read_manifest(args.corpus) if r["kind"] == "music"]
    ref_paths = [args.corpus / (r.get("wav16k_path") or r["path"]) for r in refs]
    cache: dict[int, NDArray[np.float32]] = {}

    def ref_audio(i: int) -> NDArray[np.float32]:
        if i not in cache:
            cache[i] = read_audio(ref_paths[i], sample_rate=SR)
        return cache[i]

    import soundfile as sf

    hours = sum(sf.info(str(p)).duration for p in ref_paths) / 3600
    t0 = time.time()
    queries = _cached(work / f"queries_{args.queries}_{args.negatives}_{args.seed}.json", lambda: make_queries(
        refs, ref_audio, args.corpus, qdir, args.queries, args.negatives, args.seed))
    cache.clear()
    if args.pos_subset is not None or args.neg_subset is not None:
        npos, nneg = args.pos_subset or args.queries, args.neg_subset or args.negatives
        queries = [q for q in queries if int(q.qid[3:7]) < (npos if q.track is not None else nneg)]
    print(f"{len(refs)} reference tracks, {hours:.2f} h; {len(queries)} queries made in {time.time() - t0:.0f} s",
          file=sys.stderr)
    cal_queries: list[Query] = []
    names = [n for n in args.systems.split(",") if n]
    if not names or any(n != "mmsec" for n in names):
        cal_dir = work / "cal"
        cal_dir.mkdir(exist_ok=True)
        cal_queries = _cached(work / f"cal_{args.cal_per_length}_{args.seed}.json",
                              lambda: make_cal_queries(args.corpus, cal_dir, args.cal_per_length, args.seed))
        if args.cal_subset is not None:
            cal_queries = [q for q in cal_queries if int(q.qid[3:7]) < args.cal_subset]
    report: dict = {"command": " ".join(["bench/audio_fingerprint.py", *(argv or sys.argv[1:])]),
                    "reference_tracks": len(refs), "reference_hours": hours, "n_queries": len(queries),
                    "machine": f"{os.cpu_count()} CPU cores (shared, contended), 1 thread per system",
                    "systems": {}}
    mm: Mmsec | None = None
    for name in names:
        system: System = {"mmsec": lambda: Mmsec(load_default()), "audfprint2": lambda: Audfprint(work),
                          "chromaprint": Chromaprint}[name]()
        t0 = time.time()
        system.ingest(ref_paths, hours)
        print(f"{name}: ingest {system.ingest_cpu_s:.1f} CPU s", file=sys.stderr)
        if name != "mmsec":
            peer_threshold(system, cal_queries)
        answers = run_queries(system, queries)
        ev = evaluate(system, queries, answers)
        ev["ingest_x_realtime_per_core"] = hours * 3600 / max(1e-9, system.ingest_cpu_s)
        ev["storage_bytes"] = system.storage_bytes
        ev["storage_mb_per_hour"] = system.storage_bytes / 1e6 / hours
        ev["storage_note"] = system.storage_note
        ev.update(system.extra)
        if args.pos_subset is not None or args.neg_subset is not None:
            ev["subset"] = f"first {args.pos_subset} positive and {args.neg_subset} negative excerpts"
        report["systems"][name + (" (subset)" if "subset" in ev else "")] = ev
        print(f"{name}: done in {time.time() - t0:.0f} s", file=sys.stderr)
        if isinstance(system, Mmsec):
            mm = system
    if mm is not None and args.big_hours > 0:
        sub = [q for q in queries if q.length_s in (5.0, 10.0) or q.track is None]
        rng = np.random.default_rng(args.seed + 1)
        sel = sorted(rng.choice(len(sub), size=min(args.big_queries, len(sub)), replace=False))
        report["mmsec_big_index"] = big_index_latency(mm, args.big_hours, [sub[i] for i in sel], args.seed)
    if args.bad_input:
        report["bad_input"] = bad_inputs(work, args.long_hours)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    md = markdown(report)
    print(md)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
