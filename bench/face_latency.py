"""Single-image face latency: what a probe-photo search or a one-image upload waits for on a CPU worker.

Usage::

    .venv/bin/python bench/face_latency.py /work/corpus [--out docs/benchmarks/face_latency.json] [--threads 1]

``FacePlugin.process`` on one image at a time (decode + pyramid + YuNet + alignment + SFace + quality), every
``face`` item of the corpus manifest, after three warm-up images. Throughput (many images per call) is measured
by ``bench/face.py``; this measures the one-image path, where batching does not hide per-call costs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--models", type=Path, default=Path(os.environ.get("MMSEC_MODEL_DIR", ROOT / "var" / "models")))
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "face_latency.json")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from face import load_manifest

    from plugins.face import FacePlugin
    from plugins.face.install_models import install
    from retrieval.plugin_api import Item, MediaKind

    paths = [args.corpus / row["path"] for row in load_manifest(args.corpus, "face")]
    plugin = FacePlugin({}, install(args.models / "face"))
    plugin.load("cpu")
    for path in paths[:3]:
        plugin.process([Item(0, MediaKind.IMAGE, path)])
    ms, faces = [], 0
    for path in paths:
        t0 = time.perf_counter()
        result = plugin.process([Item(0, MediaKind.IMAGE, path)])[0]
        ms.append((time.perf_counter() - t0) * 1000)
        faces += len(result.findings)
    ordered = sorted(ms)
    report = {
        "command": "python bench/face_latency.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"cpus_visible": os.cpu_count(), "torch_threads": args.threads, "torch": torch.__version__,
                    "python": platform.python_version()},
        "images": len(ms),
        "faces": faces,
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ordered[max(0, int(0.95 * len(ordered)) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
        "total_s": round(sum(ms) / 1000, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
