#!/usr/bin/env bash
# GPU worker path check: on a machine with CUDA, push the same batch workload through a plugin on
# cpu and on cuda (the code path a gpu.<plugin> worker runs: retrieval.inference.get_loaded + process)
# and print items/s side by side. Usage: bash bench/gpu_check.sh [PLUGIN] [N_ITEMS]
set -euo pipefail
cd "$(dirname "$0")/.."
PLUGIN="${1:-audio_events}"
N="${2:-64}"
PY=.venv/bin/python
[ -x "$PY" ] || { python3 -m venv .venv && $PY -m pip install -q -r requirements/base.txt -r requirements/dev.txt \
  $(for r in requirements/plugin-*.txt; do echo -r "$r"; done) && $PY -m pip install -q --no-deps -e .; }
$PY -m plugins."$PLUGIN".install_models "var/models/$PLUGIN" 2>/dev/null || true
$PY - "$PLUGIN" "$N" <<'PY'
import sys, tempfile, time
from pathlib import Path
import torch
from retrieval import inference
from retrieval.plugin_registry import get_registry
from retrieval.testing import sample_items

name, n = sys.argv[1], int(sys.argv[2])
cls = get_registry().get(name)
assert cls is not None, f"plugin {name} not installed"
kind = sorted(cls.media_kinds)[0]
tmp = Path(tempfile.mkdtemp())
good, _ = sample_items(tmp, kind)
items = [good] * n
print(f"plugin {name} model {cls.model_version}; CUDA available: {torch.cuda.is_available()}"
      + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else ""))
rows = []
for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
    inference.unload_all()
    loaded = inference.get_loaded(cls, cls.model_version, dict(cls.default_settings), Path("var/models") / name,
                                  device, [{"name": a.name, "path": a.path, "sha256": a.sha256} for a in cls.artifacts])
    batch = min(cls.max_batch_size, 32)
    loaded.plugin.process(items[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, n, batch):
        loaded.plugin.process(items[i:i + batch])
    if device == "cuda":
        torch.cuda.synchronize()
    rows.append((device, n / (time.perf_counter() - start)))
print("| device | items/s |\n|---|---|")
for device, rate in rows:
    print(f"| {device} | {rate:.1f} |")
PY
