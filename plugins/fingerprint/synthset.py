"""Image-level synthetic datasets: render impressions with ``synth`` and extract them with the plugin pipeline.

Used by ``fit_index`` and ``bench/fingerprint.py``. Results are cached per finger (``.npz``, never committed)
under a key that includes the generator and extractor versions, so reruns are cheap.

Public surface: ``SynthSpec``, ``build``, ``GENERATOR_VERSION``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from plugins.fingerprint.constants import EXTRACTOR_VERSION

GENERATOR_VERSION = "synth.2"
_LIB: object = None


@dataclass(frozen=True, slots=True)
class SynthSpec:
    """Which impressions to make: ``impressions`` per finger, the ones from ``hard_from`` on are harder."""

    impressions: int = 1
    hard_from: int | None = None
    quality: bool = False  # NFIQ2-style quality costs ~0.5 s per image: only when reported
    keep_images: bool = False  # also return the 8-bit images (for the afis baseline)


def _init(lib_path: str) -> None:
    global _LIB
    from threadpoolctl import threadpool_limits

    from plugins.fingerprint.native import NativeLib

    threadpool_limits(1)
    _LIB = NativeLib(Path(lib_path))


def _one(args: tuple[int, SynthSpec, str]) -> tuple[int, dict[str, NDArray[np.generic]]]:
    from plugins.fingerprint import synth
    from plugins.fingerprint.extract import extract
    from plugins.fingerprint.preprocessing import Rejected

    seed, spec, cache = args
    path = Path(cache) / f"{seed}.npz" if cache else None
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as z:
            return seed, {k: z[k] for k in z.files}
    out: dict[str, NDArray[np.generic]] = {}
    t0 = time.perf_counter()
    images = synth.finger_images(seed, spec.impressions, hard_from=spec.hard_from)
    out["render_s"] = np.float64((time.perf_counter() - t0) / spec.impressions)
    ext_s = []
    for i, img in enumerate(images):
        if spec.keep_images:
            out[f"img{i}"] = img
        t1 = time.perf_counter()
        try:
            ex = extract(img.astype(np.float64), _LIB, quality=spec.quality)  # type: ignore[arg-type]
            out[f"m{i}"] = ex.template.minutiae
            out[f"q{i}"] = np.int32(ex.template.quality)
        except Rejected as exc:
            out[f"err{i}"] = np.str_(str(exc))
        ext_s.append(time.perf_counter() - t1)
    out["extract_s"] = np.asarray(ext_s)
    if path is not None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        os.replace(tmp, path)
    return seed, out


def build(
    seeds: Iterable[int], spec: SynthSpec, lib_path: Path, cache_dir: Path | None, workers: int = 2
) -> dict[int, dict[str, NDArray[np.generic]]]:
    """Per finger seed: ``m{i}`` minutiae (or ``err{i}`` rejection text), ``q{i}``, timings, images if kept."""
    cache = ""
    if cache_dir is not None:
        tag = (f"{GENERATOR_VERSION}-{EXTRACTOR_VERSION}-n{spec.impressions}-h{spec.hard_from}"
               f"-q{int(spec.quality)}-i{int(spec.keep_images)}")
        cache_path = Path(cache_dir) / tag
        cache_path.mkdir(parents=True, exist_ok=True)
        cache = str(cache_path)
    jobs = [(s, spec, cache) for s in seeds]
    if workers <= 1:
        _init(str(lib_path))
        return dict(map(_one, jobs))
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(str(lib_path),)) as pool:
        return dict(pool.map(_one, jobs, chunksize=4))
