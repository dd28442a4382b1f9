"""The contract kit runs against every plugin registered in this installation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval.plugin_registry import discover
from retrieval.testing import assert_conforms

REGISTRY = discover()
MODEL_DIR = Path(os.environ.get("MMSEC_MODEL_DIR", Path(__file__).resolve().parents[2] / "var" / "models"))


def test_no_installed_plugin_is_broken() -> None:
    assert REGISTRY.broken == {}


@pytest.mark.parametrize("name", sorted(REGISTRY.plugins))
def test_plugin_conforms(name: str) -> None:
    cls = REGISTRY.plugins[name]
    assert_conforms(cls, model_dir=MODEL_DIR / name)
