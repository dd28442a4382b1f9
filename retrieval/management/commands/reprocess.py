"""Run a plugin's model version over a case or all media, with a progress bar."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from retrieval.models import Case, PluginConfiguration
from retrieval.services.plugins import reprocess_progress, start_reprocess


class Command(BaseCommand):
    help = "Reprocess media with a model version; search switches to it when every item is done."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("plugin")
        parser.add_argument("--version", help="model version (default: the active one)")
        parser.add_argument("--case", type=int, help="only this case")
        parser.add_argument("--wait", action="store_true", help="show progress until done")

    def handle(self, *args: Any, **options: Any) -> None:
        config = PluginConfiguration.objects.filter(name=options["plugin"]).first()
        if config is None:
            raise CommandError(f"no plugin {options['plugin']!r}")
        case = Case.objects.filter(pk=options["case"]).first() if options["case"] else None
        try:
            run = start_reprocess(actor=None, plugin=config.name,
                                  version=options["version"] or config.active_model_version, case=case)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"reprocessing {run.total} item(s)")
        while options["wait"]:
            progress = reprocess_progress(run)
            width = 40
            filled = int(width * progress["done"] / max(1, progress["total"]))
            sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {progress['done']}/{progress['total']}")
            sys.stdout.flush()
            run.refresh_from_db()
            if run.state != "running":
                sys.stdout.write("\n")
                break
            time.sleep(1)
