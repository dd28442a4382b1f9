"""Candidate-stage experiments for fingerprint 1:N: recall@k of the ``fp_index`` cosine search, larger k, and a
hubness correction (CSLS-style), on the same synthetic galleries as ``bench/fingerprint.py``.

    python bench/fingerprint_candidates.py CORPUS_DIR [--sizes 1000,10000,100000]

Writes ``docs/benchmarks/fingerprint-candidates.{md,json}``. Only the candidate stage is measured (no MCC
re-ranking): recall@k = share of mated probes whose enrolled finger is among the k most similar gallery prints.

Hubness correction: some gallery codes are close to many queries ("hubs") and push mates out of the top k.
Each gallery print gets ``r_g`` = mean cosine of its 10 nearest prints among 2,000 random gallery prints (a
scalar that could be stored with the print); candidates are ranked by ``cos(q, g) - beta * r_g``. "two-step"
is what pgvector could do: cosine top-1,000 from the index, then the corrected ranking of those.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import fingerprint as fpbench  # noqa: E402

from plugins.fingerprint import index  # noqa: E402
from plugins.fingerprint.synthset import SynthSpec, build  # noqa: E402

KS = (100, 200, 300, 500)
BETAS = (0.5, 1.0)
REFS, NEAREST, PREFETCH = 2000, 10, 1000


def _ranks(scores: np.ndarray, mates: np.ndarray) -> np.ndarray:
    mate = scores[np.arange(len(mates)), mates]
    return (scores > mate[:, None]).sum(1)


def _hubness(g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ref = g[rng.choice(len(g), min(REFS, len(g)), replace=False)]
    s = g @ ref.T
    s.sort(axis=1)
    return s[:, -NEAREST - 1 : -1].mean(1)  # the top one is usually the print itself


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--cache", type=Path, default=ROOT / "var" / "cache" / "fingerprint")
    ap.add_argument("--model-dir", type=Path, default=ROOT / "var" / "models" / "fingerprint")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    from threadpoolctl import threadpool_limits

    threadpool_limits(2)
    t_start = time.perf_counter()
    paths, labels = fpbench.synthetic_fvc(100, 8, args.cache, 1)
    recs = fpbench.extract_all(paths, args.model_dir, 1, args.cache)
    enrolled_idx: dict[Any, int] = {}
    for k, (finger, imp) in enumerate(labels):
        if imp == 0 and "ours" in recs[k]:
            enrolled_idx[finger] = len(enrolled_idx)
    enrolled = [recs[k]["ours"]["minutiae"] for k, (f, i) in enumerate(labels) if i == 0 and f in enrolled_idx]
    probes = [(enrolled_idx[f], recs[k]["ours"]["minutiae"]) for k, (f, i) in enumerate(labels)
              if i > 0 and f in enrolled_idx and "ours" in recs[k]]
    pool_data = build(range(fpbench.POOL_SEED, fpbench.POOL_SEED + 1000), SynthSpec(1),
                      args.model_dir / "libafis_lfs.so", args.cache, 1)
    pool = [d["m0"] for _, d in sorted(pool_data.items()) if "m0" in d]
    rng = np.random.default_rng(7)  # the same mosaics as bench/fingerprint.py
    mosaics = []
    for _ in range(max(0, max(sizes) - len(enrolled) - len(pool))):
        i, j = rng.choice(len(pool), 2, replace=False)
        mosaics.append(fpbench.mosaic(pool[i], pool[j], rng))
    gallery = enrolled + pool + mosaics
    codes = np.stack([index.index_code(m) for m in gallery])
    queries = np.stack([index.index_code(m) for _, m in probes])
    mates = np.asarray([m for m, _ in probes])
    small = np.asarray([len(m) < 30 for _, m in probes])
    report: dict[str, Any] = {"probes": len(probes), "small_probes_lt30_minutiae": int(small.sum()), "sizes": {}}
    for n in sizes:
        g = codes[:n]
        sims = queries @ g.T
        ranks = _ranks(sims, mates)
        row: dict[str, Any] = {"cosine": {f"@{k}": float(np.mean(ranks < k)) for k in KS},
                               "cosine_small": {f"@{k}": float(np.mean(ranks[small] < k)) for k in KS}}
        r = _hubness(g, np.random.default_rng(0))
        top = np.argpartition(-sims, min(PREFETCH, n - 1), axis=1)[:, :PREFETCH]
        for beta in BETAS:
            adj = sims - beta * r[None, :]
            ranks_h = _ranks(adj, mates)
            row[f"hubness_beta{beta}"] = {f"@{k}": float(np.mean(ranks_h < k)) for k in KS}
            in_top = (top == mates[:, None]).any(1)
            two = np.full(len(mates), n)
            for q in np.nonzero(in_top)[0]:
                cand = top[q]
                two[q] = int((adj[q, cand] > adj[q, mates[q]]).sum())
            row[f"two_step_beta{beta}"] = {f"@{k}": float(np.mean(two < k)) for k in KS}
        report["sizes"][str(n)] = row
        print(n, json.dumps(row), flush=True)
    report["wall_s"] = time.perf_counter() - t_start
    report["command"] = "python bench/fingerprint_candidates.py " + " ".join(sys.argv[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fingerprint-candidates.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# Fingerprint 1:N candidate stage: recall@k experiments", "",
             f"Command: `{report['command']}` ({report['wall_s']:.0f} s). Same synthetic galleries as "
             "`bench/fingerprint.py` (100 mated fingers, 1,000 image-level distractors, template-level mosaics "
             f"beyond), {report['probes']} mated probes ({report['small_probes_lt30_minutiae']} with fewer than "
             "30 minutiae). Exact cosine search (pgvector's exact scan; HNSW can only lose recall). See the module "
             "docstring for the hubness correction.", "",
             "| enrolled | ranking | " + " | ".join(f"recall@{k}" for k in KS) + " |",
             "|---:|---|" + "---:|" * len(KS)]
    for n, row in report["sizes"].items():
        for name, vals in row.items():
            lines.append(f"| {int(n):,} | {name} | " + " | ".join(f"{100 * vals[f'@{k}']:.1f} %" for k in KS) + " |")
    (args.out / "fingerprint-candidates.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
