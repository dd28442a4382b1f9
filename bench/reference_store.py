"""Reference hash store benchmark: the platform path of audio fingerprinting, measured in PostgreSQL.

    .venv/bin/python bench/reference_store.py CORPUS_DIR [--hours 25] [--queries 60]

1. Imports every ``kind=music`` file of the corpus into a reference collection through
   ``services.references.import_folder`` (hash, store, decode, fingerprint, one ``COPY`` per batch):
   ingest speed (x real time per CPU second) and bytes in PostgreSQL.
2. Adds ``--hours`` of synthetic reference postings (hash values drawn from the corpus distribution,
   4-minute tracks, real ``ReferenceRecording`` rows) in generations of 5 h with ``write_generation``,
   compacts the store into one generation and measures the bytes per hour it adds
   (``pg_total_relation_size`` of ``retrieval_afp_posting``: heap + TOAST + primary key).
3. Builds the matching snapshot from PostgreSQL (``fingerprint_store.snapshot``) and times queries
   (corpus excerpts: 5 s at 5 dB white noise, 10 s clean; speech excerpts as negatives) through
   ``plugin.match`` on the full snapshot and on a ``ScopedIndex`` (the corpus collection only),
   the two paths ``match_batch`` uses in the worker.

Writes ``docs/benchmarks/reference_store.{md,json}``. Runs in a private embedded PostgreSQL under
``var/bench-refstore`` (removed with ``--clean``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402

TRACK_S = 240.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs, float)
    if a.size == 0:
        return {"p50": float("nan"), "p95": float("nan"), "mean": float("nan")}
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean())}


def _settled_bytes() -> int:
    """Table size without the dead rows a compaction leaves for (auto)vacuum: VACUUM FULL, then measure."""
    from django.db import connection

    from retrieval.services import fingerprint_store as fs

    with connection.cursor() as cur:
        cur.execute(f"VACUUM FULL {fs.TABLE}")
    return fs.storage_bytes()


def _load8k(path: Path) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return resample_poly(x, 8000, sr).astype(np.float32) if sr != 8000 else x


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--hours", type=float, default=25.0, help="synthetic reference hours added in PostgreSQL")
    ap.add_argument("--queries", type=int, default=60, help="positive excerpts per condition")
    ap.add_argument("--negatives", type=int, default=60)
    ap.add_argument("--max-files", type=int, default=None, help="import only the first N corpus music files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--var", type=Path, default=ROOT / "var" / "bench-refstore")
    ap.add_argument("--clean", action="store_true", help="remove the private database afterwards")
    args = ap.parse_args(argv)
    cmd = "bench/reference_store.py " + " ".join(argv if argv is not None else sys.argv[1:])

    os.environ["MMSEC_STORAGE_DIR"] = str(args.var / "store")
    harness.services_up(args.var)
    try:
        report = run(args)
    finally:
        harness.services_down(args.var)
        if args.clean:
            shutil.rmtree(args.var, ignore_errors=True)
    report["command"] = cmd
    report["machine"] = harness.machine()
    out = ROOT / "docs" / "benchmarks" / "reference_store.json"
    out.write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


def run(args: argparse.Namespace) -> dict:
    _, case = harness.setup_user_and_case("reference store bench")
    import torch

    torch.set_num_threads(1)
    from plugins.audio_fingerprint import landmarks as L
    from retrieval.models import FingerprintGeneration, RecordingStatus, ReferenceCollection, ReferenceRecording
    from retrieval.services import fingerprint_store as fs
    from retrieval.services import references

    rows = list(csv.DictReader(open(args.corpus / "manifest.csv")))
    music = [r for r in rows if r["kind"] == "music"]
    speech = [r for r in rows if r["kind"] in ("speech", "speech_synthetic", "audio_event")]
    music = music[: args.max_files] if args.max_files else music
    files = [args.corpus / r["path"] for r in music]
    audio_s = sum(float(r["duration_s"]) for r in music)

    # Start from an empty store (a previous run may have left one).
    ReferenceCollection.objects.all().delete()
    fs.compact()
    collection = references.create_collection(actor=case.created_by, case=case, name="corpus music")
    w0, c0 = time.perf_counter(), _cpu()
    imp = references.import_folder(collection, files, batch_size=32)
    ingest = {"files": len(files), "added": imp.added, "failed": imp.failed, "audio_s": audio_s,
              "wall_s": time.perf_counter() - w0, "cpu_s": _cpu() - c0}
    ingest["x_realtime_per_cpu_s"] = audio_s / ingest["cpu_s"]
    corpus_recs = list(ReferenceRecording.objects.filter(collection=collection, status=RecordingStatus.READY))
    n_corpus = sum(r.n_hashes for r in corpus_recs)
    ingest["hashes_per_s"] = n_corpus / audio_s
    ingest["generations"] = FingerprintGeneration.objects.count()
    ingest["pg_bytes_generations"] = fs.storage_bytes()
    fs.compact()
    ingest["pg_bytes_compacted"] = _settled_bytes()

    # Synthetic volume with the corpus hash distribution.
    mv = corpus_recs[0].model_version
    base = fs.snapshot(mv)
    counts = np.diff(base.offsets).astype(np.float64)
    p = (counts + 0.05) / (counts + 0.05).sum()
    rng = np.random.default_rng(args.seed)
    synth = ReferenceCollection.objects.create(case=case, name="synthetic volume")
    frames = int(TRACK_S / L.REFERENCE.frame_s)
    per_track = int(TRACK_S * ingest["hashes_per_s"])
    n_tracks = int(np.ceil(args.hours * 3600 / TRACK_S))
    tracks_per_gen = int(5 * 3600 / TRACK_S)
    copy_s, n_synth = 0.0, 0
    for g0 in range(0, n_tracks, tracks_per_gen):
        k = min(tracks_per_gen, n_tracks - g0)
        recs = ReferenceRecording.objects.bulk_create([
            ReferenceRecording(collection=synth, title=f"synthetic-{g0 + i}", sha256=f"{g0 + i:064x}", size=0,
                               status=RecordingStatus.PENDING, n_frames=frames, duration_s=TRACK_S)
            for i in range(k)])
        tracks = [(r.pk, rng.choice(L.HASH_SPACE, per_track, p=p).astype(np.uint32),
                   np.sort(rng.integers(0, frames, per_track)).astype(np.int32)) for r in recs]
        t0 = time.perf_counter()
        from django.db import transaction

        with transaction.atomic():
            gen = fs.write_generation(tracks, mv)
            ReferenceRecording.objects.filter(pk__in=[r.pk for r in recs]).update(
                status=RecordingStatus.READY, model_version=mv, generation=gen.pk, n_hashes=per_track)
        copy_s += time.perf_counter() - t0
        n_synth += per_track * k
    store = {"synthetic_hours": n_tracks * TRACK_S / 3600, "synthetic_postings": n_synth,
             "write_s": copy_s, "write_postings_per_s": n_synth / copy_s,
             "pg_bytes_before_compaction": fs.storage_bytes()}
    t0 = time.perf_counter()
    fs.compact()
    store["compact_s"] = time.perf_counter() - t0
    store["pg_bytes_total_unvacuumed"] = fs.storage_bytes()
    store["pg_bytes_total"] = _settled_bytes()
    added = store["pg_bytes_total"] - ingest["pg_bytes_compacted"]
    store["pg_bytes_per_hour"] = added / store["synthetic_hours"]
    store["pg_bytes_per_posting"] = added / n_synth
    store["pg_bytes_per_hour_at_corpus_rate"] = store["pg_bytes_per_posting"] * ingest["hashes_per_s"] * 3600

    t0 = time.perf_counter()
    index = fs.snapshot(mv)
    snap = {"build_s": time.perf_counter() - t0, "postings": index.n_postings, "tracks": int(index.track_ids.size),
            "bytes": index.nbytes(), "hours": float(index.total_frames * L.REFERENCE.frame_s / 3600)}
    snap["postings_per_s"] = snap["postings"] / snap["build_s"]
    t0 = time.perf_counter()
    fs.snapshot(mv)
    snap["cached_check_s"] = time.perf_counter() - t0
    scope = fs.scoped(index, [r.pk for r in corpus_recs])

    # Queries through the worker's path: plugin.match on the snapshot (and on the scoped view).
    plugin = references._plugin()
    qrng = np.random.default_rng(args.seed + 1)
    by_track = {str(args.corpus / r["path"]): r for r in music}
    rec_of = {r.title: r.pk for r in corpus_recs}
    conds = [("5 s, white noise 5 dB", 5.0, 5.0), ("10 s, clean", 10.0, None)]
    queries = []
    for name, length, snr in conds:
        for _ in range(args.queries):
            path = files[int(qrng.integers(len(files)))]
            x = _load8k(args.corpus / by_track[str(path)]["wav16k_path"])
            if x.size < length * 8000 + 1:
                continue
            s = int(qrng.integers(0, x.size - int(length * 8000)))
            q = x[s : s + int(length * 8000)].copy()
            if snr is not None:
                n = qrng.standard_normal(q.size).astype(np.float32)
                q = q + n * np.sqrt(np.mean(q**2) / np.mean(n**2) / 10 ** (snr / 10))
            queries.append((name, rec_of.get(path.name), s / 8000, q))
    negs = []
    for _ in range(args.negatives):  # 5 s of concatenated speech / sound-event clips: in no reference
        parts: list[np.ndarray] = []
        while sum(p.size for p in parts) < 5 * 8000:
            parts.append(_load8k(args.corpus / speech[int(qrng.integers(len(speech)))]["wav16k_path"]))
        negs.append(np.concatenate(parts)[: 5 * 8000])
    results: dict[str, dict] = {}
    for label, idx in (("full snapshot", index), ("scoped to the corpus collection", scope)):
        per: dict[str, dict] = {}
        for name, truth, start, q in queries:
            fp = L.extract(q, L.QUERY)
            t0 = time.perf_counter()
            occ = plugin.match(fp, idx)
            dt = time.perf_counter() - t0
            d = per.setdefault(name, {"n": 0, "top1": 0, "lat": [], "offset_err": []})
            d["n"] += 1
            d["lat"].append(dt)
            if occ and max(occ, key=lambda o: o.score).track_id == truth:
                best = max(occ, key=lambda o: o.score)
                d["top1"] += 1
                d["offset_err"].append(abs(best.reference_start_s - best.evidence_start_s - start))
        fp_count, neg_lat = 0, []
        for q in negs:
            fp = L.extract(q, L.QUERY)
            t0 = time.perf_counter()
            occ = plugin.match(fp, idx)
            neg_lat.append(time.perf_counter() - t0)
            fp_count += bool(occ)
        results[label] = {
            "conditions": {k: {"n": v["n"], "top1": v["top1"] / max(1, v["n"]), "latency_s": _pct(v["lat"]),
                               "offset_err_median_s": float(np.median(v["offset_err"])) if v["offset_err"] else None}
                           for k, v in per.items()},
            "negatives": len(negs), "false_positives": fp_count, "negative_latency_s": _pct(neg_lat),
        }
    extrap = {
        "snapshot_build_s_at_1000h": 1000 * 3600 * ingest["hashes_per_s"] / snap["postings_per_s"],
        "snapshot_gib_at_1000h": 1000 * 3600 * ingest["hashes_per_s"] * 4 / 2**30,
        "pg_gb_at_1000h": 1000 * store["pg_bytes_per_hour_at_corpus_rate"] / 1e9,
    }
    return {"ingest": ingest, "store": store, "snapshot": snap, "queries": results, "extrapolated": extrap}


def markdown(r: dict) -> str:
    i, s, n, e = r["ingest"], r["store"], r["snapshot"], r["extrapolated"]
    lines = [
        "# Reference hash store (PostgreSQL) — audio fingerprint platform path", "",
        f"Command: `{r.get('command', '')}`  ",
        f"Machine: {r['machine']['cpus']} CPUs ({r['machine']['cpu_model']}), {r['machine']['memory_gb']} GB; "
        f"{r['machine']['note']}. Torch 1 thread.", "",
        "| measure | value |", "|---|---|",
        f"| corpus import ({i['added']} music files, {i['audio_s'] / 3600:.2f} h) through `import_folder` | "
        f"{i['x_realtime_per_cpu_s']:.0f}x real time per CPU second ({i['wall_s']:.0f} s wall; hash, store, "
        f"decode, fingerprint, COPY) |",
        f"| reference hashes per second of audio (corpus) | {i['hashes_per_s']:.0f} |",
        f"| PostgreSQL bytes after the corpus import ({i['generations']} generations → compacted, VACUUM FULL) | "
        f"{i['pg_bytes_generations'] / 1e6:.1f} MB → {i['pg_bytes_compacted'] / 1e6:.1f} MB |",
        f"| synthetic volume added | {s['synthetic_hours']:.1f} h, {s['synthetic_postings'] / 1e6:.1f} M postings, "
        f"written at {s['write_postings_per_s'] / 1e6:.2f} M postings/s (pack + COPY) |",
        f"| **PostgreSQL bytes per hour of reference audio** (marginal, compacted + VACUUM FULL; heap + TOAST + PK) | "
        f"**{s['pg_bytes_per_hour'] / 1e6:.2f} MB/h** ({s['pg_bytes_per_posting']:.2f} B per posting; "
        f"{s['pg_bytes_per_hour_at_corpus_rate'] / 1e6:.2f} MB/h at the corpus hash rate) |",
        f"| compaction of everything into one generation | {s['compact_s']:.0f} s |",
        f"| snapshot build from PostgreSQL ({n['hours']:.1f} h, {n['postings'] / 1e6:.1f} M postings) | "
        f"{n['build_s']:.1f} s ({n['postings_per_s'] / 1e6:.2f} M postings/s), {n['bytes'] / 2**20:.0f} MiB; "
        f"cached check {1000 * n['cached_check_s']:.1f} ms |",
        f"| extrapolated to 1,000 h | PostgreSQL {e['pg_gb_at_1000h']:.1f} GB; snapshot "
        f"{e['snapshot_gib_at_1000h']:.1f} GiB, built in ~{e['snapshot_build_s_at_1000h'] / 60:.0f} min |", "",
        "Queries (query fingerprinting not included; it is the plugin's cost):", "",
        "| index | condition | n | top-1 | offset error (median) | match latency p50 / p95 |",
        "|---|---|---|---|---|---|",
    ]
    for label, q in r["queries"].items():
        for name, c in q["conditions"].items():
            off = f"{1000 * c['offset_err_median_s']:.0f} ms" if c["offset_err_median_s"] is not None else "—"
            lines.append(f"| {label} | {name} | {c['n']} | {100 * c['top1']:.1f} % | {off} | "
                         f"{1000 * c['latency_s']['p50']:.0f} / {1000 * c['latency_s']['p95']:.0f} ms |")
        lines.append(f"| {label} | 5 s speech / sound events (negatives) | {q['negatives']} | false positives "
                     f"{q['false_positives']} | — | {1000 * q['negative_latency_s']['p50']:.0f} / "
                     f"{1000 * q['negative_latency_s']['p95']:.0f} ms |")
    lines += ["", "Latency at 1,000 h is not re-measured here (the snapshot is the same `InMemoryIndex` the plugin "
              "benchmark times at 1,000 h, see audio_fingerprint.md); this run measures the PostgreSQL "
              "side (bytes, write, compaction, snapshot build) and that the scoped view used per case adds little.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
