"""Worker side: one loaded instance per (plugin, model version) per process.

Models load lazily on the first batch, behind a lock (two tasks in one process
may ask for a model neither has loaded), after the SHA-256 of every artifact is
verified. Nothing here runs in the web process or in the Celery parent before
fork, so CUDA is never initialised where it could be inherited.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class ArtifactMismatch(Exception):
    """A weights file is missing or its SHA-256 differs from the pinned value: refuse to load."""


@dataclass
class Loaded:
    plugin: Any
    device: str
    loaded_at: float
    items: int = 0
    busy_s: float = 0.0
    settings_key: str = ""


_lock = threading.Lock()
_loaded: dict[tuple[str, str], Loaded] = {}
_heap: tuple[int, bool] | None = None  # (MMSEC_HEAP_KEEP_MB, applied) once this process has loaded a model
_hash_cache: dict[tuple[str, float, int], str] = {}


def sha256_of(path: Path) -> str:
    stat = path.stat()
    key = (str(path), stat.st_mtime, stat.st_size)
    if key not in _hash_cache:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        _hash_cache[key] = digest.hexdigest()
    return _hash_cache[key]


def verify_artifacts(artifacts: list[Mapping[str, str]], model_dir: Path) -> None:
    """Check every artifact exists under ``model_dir`` with its pinned SHA-256."""
    for artifact in artifacts:
        path = Path(artifact["path"])
        if not path.is_absolute():
            path = model_dir / path
        if not path.is_file():
            raise ArtifactMismatch(
                f"model file {artifact['name']!r} not found at {path}; run `make models` to install plugin weights"
            )
        actual = sha256_of(path)
        if actual != artifact["sha256"]:
            raise ArtifactMismatch(
                f"model file {path} has SHA-256 {actual}, expected {artifact['sha256']}: refusing to load it"
            )


def resolve_device(requested: str) -> str:
    if requested in ("cpu", "cuda"):
        return requested
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def get_loaded(
    cls: type, model_version: str, settings: Mapping[str, Any], model_dir: Path, device: str,
    artifacts: list[Mapping[str, str]],
) -> Loaded:
    """The loaded plugin instance for (name, model_version), loading it once if needed."""
    key = (cls.name, model_version)
    fingerprint = settings_fingerprint(settings)
    with _lock:
        entry = _loaded.get(key)
        if entry is not None and entry.settings_key == fingerprint:
            return entry
        # First use, or an administrator changed the settings: new jobs run with the new settings.
        _tune_heap_once()
        verify_artifacts(artifacts, model_dir)
        resolved = resolve_device(device)
        started = time.monotonic()
        plugin = cls(dict(settings), model_dir)
        plugin.load(resolved)
        log.info("loaded plugin %s@%s on %s in %.1f s", cls.name, model_version, resolved, time.monotonic() - started)
        entry = Loaded(plugin=plugin, device=resolved, loaded_at=time.time(), settings_key=fingerprint)
        _loaded[key] = entry
        return entry


def _tune_heap_once() -> None:
    """Processes that run models keep freed activation memory (``retrieval.allocator``); once per process."""
    global _heap
    if _heap is None:
        from django.conf import settings

        from retrieval.allocator import DEFAULT_KEEP_MB, keep_freed_memory

        keep_mb = int(getattr(settings, "MMSEC_HEAP_KEEP_MB", DEFAULT_KEEP_MB))
        _heap = (keep_mb, keep_freed_memory(keep_mb))


def heap_tuning() -> tuple[int, bool] | None:
    """``(MMSEC_HEAP_KEEP_MB, applied)`` once this process has loaded a model, else ``None``."""
    return _heap


def settings_fingerprint(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def loaded_models() -> dict[tuple[str, str], Loaded]:
    return dict(_loaded)


def unload_all() -> None:
    """FOR TESTS ONLY."""
    with _lock:
        _loaded.clear()


def process_identity() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


def rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        return None


def gpu_mem_mb(device: str) -> float | None:
    if device != "cuda":
        return None
    try:
        import torch

        return torch.cuda.memory_allocated() / 1e6
    except Exception:  # noqa: BLE001
        return None
