"""Discovery and validation: broken plugins are reported and skipped, never fatal."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from retrieval.plugin_registry import ENTRY_POINT_GROUP, PluginValidationError, discover, validate_plugin_class
from retrieval.testing import assert_conforms
from tests.fakes import BrokenDeclarationPlugin, HistogramPlugin


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_it_loads_good_plugins_and_reports_broken_ones() -> None:
    registry = discover([
        _ep("histogram", "tests.fakes:HistogramPlugin"),
        _ep("missing", "no_such_module_xyz:Plugin"),
        _ep("broken_decl", "tests.fakes:BrokenDeclarationPlugin"),
        _ep("wrong_name", "tests.fakes:HistogramPlugin"),
    ])
    assert set(registry.plugins) == {"histogram"}
    assert "ModuleNotFoundError" in registry.broken["missing"]
    assert "outside 1..2000" in registry.broken["broken_decl"]
    assert "differs from entry-point name" in registry.broken["wrong_name"]


def test_it_refuses_duplicate_names() -> None:
    registry = discover([_ep("histogram", "tests.fakes:HistogramPlugin"),
                         _ep("histogram", "tests.fakes:HistogramV2Plugin")])
    assert "registered twice" in registry.broken["histogram"]


def test_it_refuses_pickle_artifacts_and_unknown_api_versions() -> None:
    from retrieval.plugin_api import ModelArtifact

    class Pickled(HistogramPlugin):
        artifacts = (ModelArtifact("w", "weights.pth", "0" * 64),)

    class Future(HistogramPlugin):
        api_version = 99

    with pytest.raises(PluginValidationError, match="pickle"):
        validate_plugin_class(Pickled)
    with pytest.raises(PluginValidationError, match="supports"):
        validate_plugin_class(Future)


def test_installed_example_plugin_is_discovered_by_entry_point() -> None:
    registry = discover()
    assert "image_phash" in registry.plugins
    assert registry.distributions["image_phash"].startswith("mmsec-image-phash")


def test_the_test_plugin_conforms() -> None:
    assert_conforms(HistogramPlugin)


def test_broken_declaration_is_caught_by_the_kit() -> None:
    with pytest.raises(PluginValidationError):
        assert_conforms(BrokenDeclarationPlugin)


@pytest.mark.django_db
def test_manage_py_check_reports_broken_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    from retrieval.checks import check_plugins
    from retrieval.plugin_registry import reset_registry

    monkeypatch.setenv("MMSEC_EXTRA_PLUGINS", "missing=no_such_module_xyz:Plugin")
    reset_registry()
    try:
        messages = check_plugins()
    finally:
        reset_registry()
    assert any("missing" in m.msg and "failed to load" in m.msg for m in messages)
