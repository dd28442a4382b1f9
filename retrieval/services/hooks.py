"""After-store hooks: features react to the findings a plugin job just stored (tracks, persons...).

``@after_findings_stored(plugins={"face"})`` registers ``fn(media, plugin, model_version)``;
``services.plugins`` runs the hooks of a plugin right after ``store_findings`` and before
watchlist matching. A failing hook is logged and skipped: the job's findings are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

HookFn = Callable[[Any, str, str], None]
_HOOKS: list[tuple[frozenset[str], HookFn]] = []


def after_findings_stored(*, plugins: Iterable[str]) -> Callable[[HookFn], HookFn]:
    def decorator(fn: HookFn) -> HookFn:
        if all(existing is not fn for _, existing in _HOOKS):
            _HOOKS.append((frozenset(plugins), fn))
        return fn

    return decorator


def run_after_store(media: Any, plugin: str, model_version: str) -> None:
    for plugins, fn in _HOOKS:
        if plugin not in plugins:
            continue
        try:
            fn(media, plugin, model_version)
        except Exception:  # noqa: BLE001 - a feature's bug must not fail the processing job
            log.exception("after-store hook %s failed for media %s", getattr(fn, "__name__", fn), media.pk)
