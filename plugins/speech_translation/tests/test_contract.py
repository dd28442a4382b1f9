"""Declaration and construction: no weights needed except for the shared contract kit at the end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plugins.speech_translation import SpeechTranslationPlugin
from retrieval.plugin_api import Distance, MediaKind, Plugin, PluginError
from retrieval.testing import assert_conforms, check_declaration


def test_it_declares_a_valid_audio_plugin():
    check_declaration(SpeechTranslationPlugin)
    assert SpeechTranslationPlugin.name == "speech_translation"
    assert SpeechTranslationPlugin.media_kinds == frozenset({MediaKind.AUDIO})
    (spec,) = SpeechTranslationPlugin.embeddings
    assert (spec.name, spec.dim, spec.distance) == ("minilm", 384, Distance.COSINE)
    assert "whisper_model_dir" in SpeechTranslationPlugin.default_settings
    assert all(len(a.sha256) == 64 for a in SpeechTranslationPlugin.artifacts)


def test_it_imports_without_heavy_frameworks():
    code = ("import sys; import plugins.speech_translation as p; p.SpeechTranslationPlugin({}, None); "
            "bad = [m for m in ('torch', 'ctranslate2', 'faster_whisper', 'onnx', 'onnxruntime') if m in sys.modules];"
            "print(bad); raise SystemExit(1 if bad else 0)")
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_it_refuses_unknown_settings():
    with pytest.raises(PluginError, match="unknown settings"):
        SpeechTranslationPlugin({"beam": 3})


def test_it_satisfies_the_protocol_without_loading():
    plugin = SpeechTranslationPlugin({}, None)
    assert isinstance(plugin, Plugin)
    with pytest.raises(PluginError):
        plugin.process([])
    with pytest.raises(PluginError):
        plugin.embed_text(["query"])


def test_it_needs_a_model_dir_to_load():
    with pytest.raises(PluginError, match="model directory"):
        SpeechTranslationPlugin({}, None).load("cpu")


def test_it_refuses_a_bad_whisper_model_dir(tmp_path, model_dir):
    (tmp_path / "model.bin").write_bytes(b"\x80\x04not a ct2 model")
    plugin = SpeechTranslationPlugin({"whisper_model_dir": str(tmp_path)}, model_dir)
    with pytest.raises(PluginError, match="config.json"):
        plugin.load("cpu")


def test_it_conforms_to_the_contract_kit(model_dir):
    assert_conforms(SpeechTranslationPlugin, {"cpu_threads": 2}, model_dir=model_dir)
