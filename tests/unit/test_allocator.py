"""Inference workers keep large freed blocks in the heap (retrieval.allocator).

Why: glibc hands every freshly freed multi-megabyte block back to the kernel, so a CPU worker that allocates
the same ~10 MB activations for every batch page-faults them in again each time; on 2 cores that was a
quarter of YAMNet's end-to-end time (docs/benchmarks/audio_events.md, 411-436x -> 564-581x real time).
Each case runs in a fresh interpreter: the allocator's state is per process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import sys
import numpy as np
from retrieval import allocator
applied = allocator.keep_freed_memory(sys.argv[1] == "1" and 128 or 0)
def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20
base = rss_mb()
block = np.ones(24 * 2**20 // 8)  # 24 MiB, every page touched
grown = rss_mb()
del block
print(applied, round(grown - base), round(rss_mb() - base))
"""


def _run(tuned: bool) -> tuple[str, int, int]:
    out = subprocess.run([sys.executable, "-c", _CHILD, "1" if tuned else "0"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], int(out[1]), int(out[2])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_blocks_stay_in_the_process_when_tuned() -> None:
    applied, grown, after = _run(tuned=False)
    assert applied == "False" and grown >= 20 and after <= 4  # glibc default: given back at once
    applied, grown, after = _run(tuned=True)
    assert applied == "True" and grown >= 20 and after >= 20  # kept for the next batch


def test_zero_leaves_glibc_defaults_and_bad_values_are_refused() -> None:
    from retrieval import allocator

    assert allocator.keep_freed_memory(0) is False
    with pytest.raises(ValueError, match="MMSEC_HEAP_KEEP_MB"):
        allocator.keep_freed_memory(-5)
    with pytest.raises(ValueError, match="0-2047"):
        allocator.keep_freed_memory(4096)
