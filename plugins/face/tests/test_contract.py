"""The plugin satisfies the mmsec contract without loading weights or torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from plugins.face import FacePlugin
from plugins.face.install_models import FILES
from retrieval.plugin_api import API_VERSION, Distance, MediaKind, Plugin

ROOT = Path(__file__).resolve().parents[3]


def test_it_satisfies_the_protocol_without_loading():
    plugin = FacePlugin({})
    assert isinstance(plugin, Plugin)
    assert plugin._engine is None
    assert FacePlugin.name == "face"
    assert FacePlugin.api_version == API_VERSION
    assert FacePlugin.media_kinds == frozenset({MediaKind.IMAGE})
    (spec,) = FacePlugin.embeddings
    assert (spec.name, spec.dim, spec.distance) == ("face", 128, Distance.COSINE)


def test_artifacts_are_the_pinned_onnx_files():
    pins = {name: sha for name, (_, sha) in FILES.items()}
    assert {a.path: a.sha256 for a in FacePlugin.artifacts} == pins
    assert all(a.path.endswith(".onnx") for a in FacePlugin.artifacts)


def test_settings_are_json_and_carry_the_calibrated_threshold():
    settings = json.loads(json.dumps(dict(FacePlugin.default_settings)))
    assert 0.0 < settings["match_threshold"] < 1.0
    assert FacePlugin({"match_threshold": 0.5}).settings["match_threshold"] == 0.5


def test_web_process_import_does_not_pull_torch():
    code = "import sys, plugins.face as f; f.FacePlugin({}); assert 'torch' not in sys.modules, 'torch'; " \
           "assert 'onnx' not in sys.modules, 'onnx'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
