"""Discovery and validation of plugins registered under the ``mmsec.plugins`` entry-point group.

A plugin that fails to import or validate is recorded in ``Registry.broken``
with the reason and skipped; the site keeps running (the admin page and
``manage.py check`` show the reason). Django-free.

Public surface: ``get_registry()``, ``Registry``, ``validate_plugin_class()``,
``reset_registry()`` (FOR TESTS ONLY), ``ENTRY_POINT_GROUP``.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from retrieval.plugin_api import SUPPORTED_API_VERSIONS, EmbeddingSpec, MediaKind, ModelArtifact

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mmsec.plugins"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_REQUIRED_ATTRS = (
    "name", "version", "model_version", "api_version", "media_kinds", "embeddings", "artifacts",
    "max_batch_size", "default_settings", "load", "process",
)
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin.pkl", ".joblib")


class PluginValidationError(Exception):
    """The class does not satisfy the plugin contract; the message says what is wrong."""


def validate_plugin_class(cls: Any, entry_name: str | None = None) -> None:
    """Raise ``PluginValidationError`` unless ``cls`` satisfies ``retrieval.plugin_api.Plugin``."""
    missing = [a for a in _REQUIRED_ATTRS if not hasattr(cls, a)]
    if missing:
        raise PluginValidationError(f"missing attribute(s): {', '.join(missing)}")
    name = cls.name
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise PluginValidationError(f"name {name!r} must match {_NAME_RE.pattern}")
    if entry_name is not None and name != entry_name:
        raise PluginValidationError(f"class name attribute {name!r} differs from entry-point name {entry_name!r}")
    if cls.api_version not in SUPPORTED_API_VERSIONS:
        raise PluginValidationError(
            f"targets plugin API {cls.api_version}; this mmsec supports {sorted(SUPPORTED_API_VERSIONS)}"
        )
    for attr in ("version", "model_version"):
        if not isinstance(getattr(cls, attr), str) or not getattr(cls, attr):
            raise PluginValidationError(f"{attr} must be a non-empty string")
    kinds = cls.media_kinds
    if not kinds or not all(isinstance(k, MediaKind) for k in kinds):
        raise PluginValidationError("media_kinds must be a non-empty set of MediaKind")
    names = set()
    for spec in cls.embeddings:
        if not isinstance(spec, EmbeddingSpec):
            raise PluginValidationError("embeddings must contain EmbeddingSpec instances")
        if not 1 <= spec.dim <= 2000:
            raise PluginValidationError(f"embedding {spec.name!r}: dim {spec.dim} outside 1..2000")
        if spec.name in names or not _NAME_RE.match(spec.name):
            raise PluginValidationError(f"embedding name {spec.name!r} is invalid or repeated")
        names.add(spec.name)
    for artifact in cls.artifacts:
        if not isinstance(artifact, ModelArtifact):
            raise PluginValidationError("artifacts must contain ModelArtifact instances")
        if artifact.path.lower().endswith(_PICKLE_SUFFIXES):
            raise PluginValidationError(f"artifact {artifact.path!r} is a pickle-based format, which can run code")
        if not re.fullmatch(r"[0-9a-f]{64}", artifact.sha256):
            raise PluginValidationError(f"artifact {artifact.name!r} needs a lowercase hex SHA-256")
    if not isinstance(cls.max_batch_size, int) or cls.max_batch_size < 1:
        raise PluginValidationError("max_batch_size must be a positive integer")
    if not isinstance(cls.default_settings, Mapping):
        raise PluginValidationError("default_settings must be a mapping")
    for method in ("load", "process"):
        if not callable(getattr(cls, method)):
            raise PluginValidationError(f"{method} must be callable")


@dataclass
class Registry:
    """Plugins that loaded and validated, and the reasons others did not."""

    plugins: dict[str, type] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    distributions: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> type | None:
        return self.plugins.get(name)

    def log_summary(self) -> None:
        for name, cls in sorted(self.plugins.items()):
            log.info("plugin %s %s (model %s) from %s", name, cls.version, cls.model_version,
                     self.distributions.get(name, "?"))
        for name, reason in sorted(self.broken.items()):
            log.error("plugin %s skipped: %s", name, reason)


def _extra_entry_points() -> list[EntryPoint]:
    """``MMSEC_EXTRA_PLUGINS="name=module:Class,..."``: plugins from a source tree without installing a package
    (development and tests); they go through exactly the same validation as installed ones."""
    spec = os.environ.get("MMSEC_EXTRA_PLUGINS", "")
    result = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        result.append(EntryPoint(name=name.strip(), value=value.strip(), group=ENTRY_POINT_GROUP))
    return result


def discover(eps: Iterable[EntryPoint] | None = None) -> Registry:
    """Load every entry point of the group; never raises for a bad plugin."""
    registry = Registry()
    if eps is None:
        eps = [*entry_points(group=ENTRY_POINT_GROUP), *_extra_entry_points()]
    for ep in eps:
        try:
            cls = ep.load()
            validate_plugin_class(cls, ep.name)
        except Exception as exc:  # noqa: BLE001 - one bad third-party package must not stop the site
            registry.broken[ep.name] = f"{exc.__class__.__name__}: {exc}"
            continue
        if ep.name in registry.plugins:
            registry.broken[ep.name] = "registered twice (two packages use the same plugin name)"
            continue
        registry.plugins[ep.name] = cls
        dist = getattr(ep, "dist", None)
        registry.distributions[ep.name] = f"{dist.name} {dist.version}" if dist is not None else ep.value
    return registry


_lock = threading.Lock()
_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, discovered once (lazily, thread-safe)."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = discover()
                _registry.log_summary()
    return _registry


def reset_registry(registry: Registry | None = None) -> None:
    """FOR TESTS ONLY: forget (or replace) the discovered registry."""
    global _registry
    with _lock:
        _registry = registry
