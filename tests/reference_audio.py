"""Synthetic reference recordings and evidence for the reference-collection tests (no corpus needed)."""

from __future__ import annotations

import io
import wave

import numpy as np

from plugins.audio_fingerprint.nullset import synthetic_music

SR = 16_000


def music(seed: int, seconds: float) -> np.ndarray:
    """A deterministic 'recording': two overlaid tunes (melody, chords, drum hits), ~130 hashes/s."""
    n = int(seconds * SR)
    x = sum(synthetic_music(n, np.random.default_rng(seed * 10 + i), sr=SR) for i in range(2))
    return (x / (np.abs(x).max() + 1e-9) * 0.5).astype(np.float32)


def wav(x: np.ndarray, rate: int = SR) -> bytes:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm.tobytes())
    return out.getvalue()


def noisy_evidence(reference: np.ndarray, ref_start_s: float, at_s: float, seconds: float = 30.0,
                   excerpt_s: float = 5.0, snr_db: float = 5.0, seed: int = 3) -> np.ndarray:
    """``seconds`` of pink-ish room noise with a ``excerpt_s`` excerpt of ``reference`` (from ``ref_start_s``)
    played at ``at_s``, the excerpt ``snr_db`` above the white noise added over the whole file."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    bed = np.cumsum(rng.standard_normal(n)) * 0.0005
    bed -= np.convolve(bed, np.ones(400) / 400, mode="same")
    excerpt = reference[int(ref_start_s * SR) : int((ref_start_s + excerpt_s) * SR)]
    out = bed.astype(np.float64)
    a = int(at_s * SR)
    out[a : a + excerpt.size] += excerpt
    noise = rng.standard_normal(n)
    noise *= np.sqrt(np.mean(excerpt**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    return (out + noise).astype(np.float32)


def unknown(seconds: float = 20.0, seed: int = 99) -> np.ndarray:
    """Music that is in no reference, with a little noise."""
    rng = np.random.default_rng(seed)
    x = music(seed, seconds)
    return (x + rng.standard_normal(x.size) * 0.01).astype(np.float32)
