"""Web-side models load when a web process starts, not on the first user's probe or query."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval import inference
from retrieval.models import PluginConfiguration
from retrieval.services import plugins, transcripts, warmup

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def real_weights(settings):
    settings.MMSEC_MODEL_DIR = ROOT / "var" / "models"
    plugins.sync_plugins()
    if not PluginConfiguration.objects.get(name="face").installed or not transcripts.embed_query.available():
        pytest.skip("face or MiniLM weights not installed (make models)")
    inference.unload_all()
    yield
    inference.unload_all()


def test_warm_up_loads_the_probe_models_and_minilm(real_weights, personas) -> None:
    plugins.update_configuration(actor=personas["staff"], config=PluginConfiguration.objects.get(name="face"),
                                 enabled=True)
    done = warmup.warm_web_models()
    assert isinstance(done["probe models"], float), done
    assert isinstance(done["transcript semantic search"], float), done
    assert any(name == "face" for name, _ in inference._loaded), "the face model stays loaded for the next probe"
    assert not any(name == "fingerprint" for name, _ in inference._loaded), "disabled plugins are not loaded"
    assert transcripts.embed_query._model is not None


def test_warm_up_skips_a_disabled_plugin_and_never_raises(real_weights, settings) -> None:
    assert not PluginConfiguration.objects.get(name="face").enabled
    done = warmup.warm_web_models()
    assert done["probe models"] == "skipped: no probe plugin enabled"
    settings.MMSEC_MODEL_DIR = Path("/nonexistent")
    assert str(warmup.warm_web_models()["transcript semantic search"]).startswith("skipped")


def test_web_processes_run_torch_single_threaded(settings) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        settings.MMSEC_WEB_TORCH_THREADS = 1
        assert warmup.limit_torch_threads() == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_warm_up_detects_what_vector_search_will_use(caplog) -> None:
    from retrieval.services import search

    search._versions.clear()  # as in a fresh process
    with caplog.at_level("INFO", logger="retrieval.services.warmup"):
        done = warmup.warm_web_models()
    assert isinstance(done["vector search capabilities"], float), done
    assert "default" in search._versions  # cached for the first search
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("vector search:"))
    assert f"pgvector {search._versions['default']}" in line and "iterative index scans off" in line
    assert "not partitioned" in line
