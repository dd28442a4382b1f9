"""Contract test kit for mmsec plugins (importable by third-party packages, no Django needed).

Use it from a plugin's own tests::

    from retrieval.testing import assert_conforms
    def test_contract():
        assert_conforms(MyPlugin)

It is also a pytest plugin (entry point ``pytest11``) providing the fixture
``plugin_sample_items`` (a valid and a corrupt item per media kind).

Public surface: ``assert_conforms``, ``check_declaration``, ``check_processing``,
``sample_items``, ``plugin_sample_items`` (fixture).
"""

from __future__ import annotations

import io
import math
import tempfile
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.plugin_api import Distance, Item, ItemResult, MediaKind, Plugin
from retrieval.plugin_registry import validate_plugin_class


def sample_items(directory: Path, kind: MediaKind, cls: type | None = None) -> tuple[Item, Item]:
    """A small valid item and a corrupt one of ``kind``, written into ``directory``.

    A plugin whose input is narrower than "any image/audio" (a fingerprint plugin rightly rejects a
    generic picture) MAY provide ``contract_sample(directory, kind) -> Path``, a classmethod writing a
    valid file; the corrupt item is then a truncated copy of it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    provider = getattr(cls, "contract_sample", None) if cls is not None else None
    if callable(provider):
        good = Path(provider(directory, kind))
        bad = directory / f"corrupt{good.suffix}"
        bad.write_bytes(good.read_bytes()[:60])
        return (Item(media_id=1, kind=kind, path=good), Item(media_id=2, kind=kind, path=bad))
    if kind == MediaKind.IMAGE:
        from PIL import Image

        img = Image.new("RGB", (96, 64), (180, 60, 40))
        for x in range(0, 96, 12):
            img.paste((20, 20 + 2 * x, 200), (x, 10, x + 6, 54))
        good = directory / "sample.png"
        img.save(good)
        bad = directory / "corrupt.png"
        bad.write_bytes(good.read_bytes()[:60])
        return (Item(media_id=1, kind=kind, path=good, mime="image/png"),
                Item(media_id=2, kind=kind, path=bad, mime="image/png"))
    rate = 16000
    t = np.arange(rate * 2) / rate
    tone = 0.4 * np.sin(2 * math.pi * 440 * t) + 0.2 * np.sin(2 * math.pi * 1250 * t * (1 + t / 4))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes((tone * 32767).astype("<i2").tobytes())
    good = directory / "sample.wav"
    good.write_bytes(buf.getvalue())
    bad = directory / "corrupt.wav"
    bad.write_bytes(buf.getvalue()[:30])
    return (Item(media_id=1, kind=kind, path=good, mime="audio/wav"),
            Item(media_id=2, kind=kind, path=bad, mime="audio/wav"))


def check_declaration(cls: type) -> None:
    """Class attributes are valid (same validation mmsec applies at discovery)."""
    validate_plugin_class(cls)
    assert isinstance(cls.default_settings, dict) or hasattr(cls.default_settings, "items")
    for key, value in cls.default_settings.items():
        assert isinstance(key, str)
        assert isinstance(value, (str, int, float, bool, list, dict, type(None))), f"setting {key} is not JSON"


def check_processing(plugin: Any, items: Sequence[Item], spaces: dict[str, Any]) -> list[ItemResult]:
    """Run ``process`` and check the result shape against the contract."""
    results = plugin.process(list(items))
    assert isinstance(results, list), "process must return a list"
    assert len(results) == len(items), "process must return exactly one result per item"
    for item, result in zip(items, results, strict=True):
        assert isinstance(result, ItemResult)
        assert result.media_id == item.media_id, "results must be in input order"
        for finding in result.findings:
            if finding.vector is not None:
                assert finding.space in spaces, f"finding uses undeclared space {finding.space!r}"
                spec = spaces[finding.space]
                vector = np.asarray(finding.vector)
                assert vector.shape == (spec.dim,), f"vector shape {vector.shape} != ({spec.dim},)"
                assert vector.dtype == np.float32, "vectors must be float32"
                assert np.all(np.isfinite(vector)), "vectors must be finite"
                if spec.distance == Distance.COSINE:
                    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3, "cosine vectors must be L2-normalised"
            if finding.region is not None and finding.region.start_s is not None:
                assert finding.region.start_s >= 0
                if finding.region.end_s is not None:
                    assert finding.region.end_s >= finding.region.start_s
            if finding.score is not None:
                assert math.isfinite(float(finding.score))
    return results


def assert_conforms(cls: type, settings: dict[str, Any] | None = None, model_dir: Path | None = None,
                    device: str = "cpu") -> None:
    """Full check: declaration, construction without loading, idempotent load, and processing of a
    valid and a corrupt item per declared media kind (the corrupt one must give an error, not an exception)."""
    check_declaration(cls)
    plugin = cls(dict(settings or cls.default_settings), model_dir)
    assert isinstance(plugin, Plugin), "instances must satisfy retrieval.plugin_api.Plugin"
    plugin.load(device)
    plugin.load(device)  # idempotent
    spaces = {spec.name: spec for spec in cls.embeddings}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in sorted(cls.media_kinds):
            good, bad = sample_items(Path(tmp) / kind, kind, cls)
            results = check_processing(plugin, [good, bad], spaces)
            assert results[0].error is None, f"valid {kind} sample failed: {results[0].error}"
            assert results[1].error, f"corrupt {kind} sample must give ItemResult.error, not a result"


try:  # the fixture is only defined when pytest is present (it is a pytest plugin too)
    import pytest

    @pytest.fixture
    def plugin_sample_items(tmp_path: Path) -> dict[MediaKind, tuple[Item, Item]]:
        """A valid and a corrupt item for each media kind."""
        return {kind: sample_items(tmp_path / kind, kind) for kind in MediaKind}
except ImportError:  # pragma: no cover
    pass
