"""Process hooks only (no business logic): sync plugin rows after ``migrate``."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _sync_plugins_after_migrate(sender: Any, app_config: Any = None, **kwargs: Any) -> None:
    if app_config is None or app_config.label != "retrieval":
        return
    from retrieval.services.plugins import sync_plugins

    sync_plugins()
