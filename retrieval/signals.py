"""Process hooks only (no business logic): sync plugin rows after ``migrate``; audit logins."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _sync_plugins_after_migrate(sender: Any, app_config: Any = None, **kwargs: Any) -> None:
    if app_config is None or app_config.label != "retrieval":
        return
    from retrieval.services.plugins import sync_plugins

    sync_plugins()


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    from retrieval.services import login_limits

    login_limits.record_failure(str(credentials.get("username", "")), request)


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from retrieval.services import login_limits

    login_limits.record_success(user, request)
