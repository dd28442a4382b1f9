"""Shared fixtures: synthetic 'recordings' (no corpus, no weights needed) and a small index."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.audio_fingerprint import landmarks as L
from plugins.audio_fingerprint.index import InMemoryIndex
from plugins.audio_fingerprint.nullset import synthetic_music

SR = 8000


def track(seed: int, seconds: float = 40.0) -> np.ndarray:
    """A deterministic synthetic piece of music at 8 kHz."""
    return synthetic_music(int(seconds * SR), np.random.default_rng(seed), sr=SR)


@pytest.fixture(scope="session")
def tracks() -> dict[int, np.ndarray]:
    return {tid: track(tid) for tid in (101, 102, 103, 104)}


@pytest.fixture(scope="session")
def index(tracks: dict[int, np.ndarray]) -> InMemoryIndex:
    idx = InMemoryIndex()
    for tid, x in tracks.items():
        fp = L.extract(x, L.REFERENCE)
        idx.add(tid, fp.hashes, fp.frames, x.size // L.REFERENCE.hop + 1)
    idx.freeze()
    return idx


def add_noise(x: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(x.size)
    noise *= np.sqrt(np.mean(x**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)
