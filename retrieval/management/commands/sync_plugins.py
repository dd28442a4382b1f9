"""Mirror installed plugins into the database and report broken ones."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from retrieval.plugin_registry import get_registry
from retrieval.services.plugins import sync_plugins


class Command(BaseCommand):
    help = "Discover plugins (entry-point group mmsec.plugins) and sync their configuration rows."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--enable", nargs="*", default=[], help="also enable these plugins")
        parser.add_argument("--enable-defaults", action="store_true",
                            help="on a database where no plugin was ever configured, enable MMSEC_DEFAULT_PLUGINS")

    def handle(self, *args: Any, **options: Any) -> None:
        from retrieval.models import PluginConfiguration
        from retrieval.services.plugins import enable_defaults, update_configuration

        rows = sync_plugins()
        for row in rows:
            self.stdout.write(f"{row.name}: {row.installed_version} model {row.code_model_version} "
                              f"{'enabled' if row.enabled else 'disabled'}")
        for name, reason in get_registry().broken.items():
            self.stdout.write(self.style.ERROR(f"{name}: BROKEN: {reason}"))
        if options["enable_defaults"]:
            for name in enable_defaults():
                self.stdout.write(f"{name}: enabled (first start default; change it in the admin)")
        for name in options["enable"]:
            config = PluginConfiguration.objects.get(name=name)
            update_configuration(actor=None, config=config, enabled=True)
            self.stdout.write(f"{name}: enabled")
