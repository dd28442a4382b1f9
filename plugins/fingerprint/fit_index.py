"""Fit ``index_stats.npz`` (centring, principal components, within-finger shrinkage) on synthetic prints.

Usage: ``python -m plugins.fingerprint.fit_index [--fingers 320] [--multi-fingers 200] [--workers 2] [--cache DIR]``

Training data: ``--fingers`` single impressions (seeds from ``SEED_BASE``) for the mean and principal
components, and ``--multi-fingers`` fingers x 4 impressions (2 normal, 2 hard; seeds from ``MULTI_SEED_BASE``)
for the within-finger directions. Both are disjoint from every benchmark set. About 40 CPU-minutes when
nothing is cached. Deterministic: the same arguments give the same file. After refitting, update
``constants.INDEX_STATS_SHA256`` and bump ``constants.MODEL_VERSION`` (the vector space changes).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from plugins.fingerprint import index
from plugins.fingerprint.synthset import SynthSpec, build

SEED_BASE = 3_000_000
MULTI_SEED_BASE = 4_000_000


def fit(templates: list[np.ndarray], fingers: list[list[np.ndarray]]) -> index.IndexStats:
    """Mean and leading principal directions over single prints of many fingers (``templates``), and the
    shrinkage of the leading within-finger directions over several impressions per finger (``fingers``)."""
    x = np.stack([index.feature(m) for m in templates]).astype(np.float64)
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    pcs = vt[: index.N_PC]
    dev = []
    for imps in fingers:
        f = np.stack([index.feature(m) for m in imps]).astype(np.float64)
        dev.append(f - f.mean(axis=0))
    d = np.concatenate(dev)
    d = d - (d @ pcs.T) @ pcs
    lam, vec = np.linalg.eigh(d.T @ d / len(d))
    lam, vec = lam[::-1], vec[:, ::-1]
    reg = index.WITHIN_SHRINK * float(lam.mean())
    top = lam[: index.N_WITHIN].clip(0)
    gain = np.sqrt(reg) / np.sqrt(top + reg) - 1.0
    return index.IndexStats(mean.astype(np.float32), pcs.astype(np.float32),
                            vec[:, : index.N_WITHIN].T.astype(np.float32), gain.astype(np.float32))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fingers", type=int, default=320)
    ap.add_argument("--multi-fingers", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("var/cache/fingerprint"))
    ap.add_argument("--model-dir", type=Path,
                    default=Path(os.environ.get("MMSEC_MODEL_DIR", "var/models")) / "fingerprint")
    ap.add_argument("--out", type=Path, default=index.STATS_FILE)
    args = ap.parse_args()
    lib = args.model_dir / "libafis_lfs.so"
    data = build(range(SEED_BASE, SEED_BASE + args.fingers), SynthSpec(1), lib, args.cache, args.workers)
    templates = [d["m0"] for _, d in sorted(data.items()) if "m0" in d]
    multi = build(range(MULTI_SEED_BASE, MULTI_SEED_BASE + args.multi_fingers), SynthSpec(4, hard_from=2), lib,
                  args.cache, args.workers)
    fingers = [[d[f"m{i}"] for i in range(4) if f"m{i}" in d] for _, d in sorted(multi.items())]
    stats = fit(templates, [f for f in fingers if len(f) >= 2])
    np.savez(args.out, mean=stats.mean, components=stats.components, within=stats.within,
             within_gain=stats.within_gain)
    print(f"fitted on {len(templates)} prints + {len(fingers)} fingers x 4 impressions -> {args.out}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
