"""App configuration: registers system checks; never loads models or touches the database."""

from __future__ import annotations

from django.apps import AppConfig


class RetrievalConfig(AppConfig):
    name = "retrieval"
    verbose_name = "Evidence retrieval"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from retrieval import checks, features, signals  # noqa: F401  (registers checks and post_migrate hooks)
        from retrieval.services import watchlists  # noqa: F401  (registers the built-in watchlist matchers)

        features.load_all()  # feature modules register matchers, media-page panels and timeline rows
