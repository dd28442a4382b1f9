"""Perceptual hashes in numpy: robust to re-encoding, resizing and small colour changes."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def _grey(rgb: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.float32]:
    from PIL import Image

    img = Image.fromarray(rgb).convert("L").resize(size, Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float32)


def _dct_matrix(n: int) -> NDArray[np.float64]:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT32 = _dct_matrix(32)


def phash_bits(rgb: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """64 bits: signs of the low-frequency 8x8 DCT block (without DC) against its median."""
    grey = _grey(rgb, (32, 32)).astype(np.float64)
    coeffs = _DCT32 @ grey @ _DCT32.T
    block = coeffs[:8, :8].reshape(-1)
    return block > np.median(block[1:])


def dhash_bits(rgb: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """64 bits: is each pixel brighter than its right neighbour (9x8 thumbnail)."""
    grey = _grey(rgb, (9, 8))
    return (grey[:, 1:] > grey[:, :-1]).reshape(-1)


def hash_vector(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """128 bits as a unit vector of ±1/sqrt(128): cosine distance = 2 * Hamming / 128."""
    bits = np.concatenate([phash_bits(rgb), dhash_bits(rgb)])
    return (np.where(bits, 1.0, -1.0) / np.sqrt(bits.size)).astype(np.float32)


def hex_digest(vector: NDArray[np.float32]) -> str:
    bits = (vector > 0).astype(np.uint8)
    return np.packbits(bits).tobytes().hex()
