"""System checks: broken plugins show up in ``manage.py check`` (error if enabled, warning otherwise)."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Warning, register
from django.db import DatabaseError


@register("mmsec")
def check_plugins(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from retrieval.plugin_registry import get_registry

    registry = get_registry()
    enabled: set[str] = set()
    try:
        from retrieval.models import PluginConfiguration

        enabled = set(PluginConfiguration.objects.filter(enabled=True).values_list("name", flat=True))
    except DatabaseError:
        pass  # no database yet (before migrate): report every broken plugin as a warning
    messages: list[Any] = []
    for name, reason in sorted(registry.broken.items()):
        kind = Error if name in enabled else Warning
        messages.append(kind(f"plugin {name!r} failed to load and is skipped: {reason}",
                             hint="Reinstall the package or fix its entry point; see the admin's plugin page.",
                             id="mmsec.E001" if kind is Error else "mmsec.W001"))
    for name in sorted(enabled - set(registry.plugins) - set(registry.broken)):
        messages.append(Error(f"plugin {name!r} is enabled but not installed",
                              hint="Install its package or disable it in the admin.", id="mmsec.E002"))
    return messages
