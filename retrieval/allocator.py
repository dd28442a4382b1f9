"""Heap tuning for inference workers: keep large freed blocks in the process (glibc's ``mallopt``).

Why: a CPU worker allocates the same few activations of ~1-30 MB for every batch. glibc maps blocks that
large with ``mmap`` and trims the heap top after each free, so every batch page-faults them in again; on
2 cores that was a quarter of YAMNet's end-to-end time (docs/benchmarks/audio_events.md). Pinning the mmap
threshold at glibc's own dynamic maximum (32 MiB) and keeping up to ``keep_mb`` of freed heap costs that
much resident memory at most and removes the churn. Elsewhere than glibc this is a no-op.

Public surface: ``keep_freed_memory``, ``keep_freed_memory_as_configured``, ``DEFAULT_KEEP_MB``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
DEFAULT_KEEP_MB = 128  # settings.MMSEC_HEAP_KEEP_MB
MAX_KEEP_MB = 2047  # mallopt takes a C int of bytes
MMAP_THRESHOLD_MB = 32  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit: larger blocks still go back at once


def keep_freed_memory(keep_mb: int) -> bool:
    """Keep up to ``keep_mb`` MiB of freed heap in this process; ``0`` leaves glibc's defaults. True if applied."""
    if not 0 <= keep_mb <= MAX_KEEP_MB:
        raise ValueError(f"MMSEC_HEAP_KEEP_MB must be 0-{MAX_KEEP_MB} (0 = glibc defaults), not {keep_mb}")
    if keep_mb == 0:
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        mallopt = None
    if mallopt is None:  # not glibc (musl, macOS): nothing to tune
        return False
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MB << 20))
    applied = applied and bool(mallopt(M_TRIM_THRESHOLD, keep_mb << 20))
    log.info("heap: keep up to %d MiB of freed memory (mmap threshold %d MiB): %s", keep_mb, MMAP_THRESHOLD_MB,
             "applied" if applied else "refused by mallopt")
    return applied


def keep_freed_memory_as_configured() -> bool:
    """``keep_freed_memory`` with ``MMSEC_HEAP_KEEP_MB`` from the environment: for benchmark processes that run a
    plugin without Django, so they behave like a worker (``retrieval.inference`` reads the Django setting)."""
    return keep_freed_memory(int(os.environ.get("MMSEC_HEAP_KEEP_MB", DEFAULT_KEEP_MB)))
