"""Register administrator-supplied weights as a new model version of a plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from retrieval.services.plugins import register_model_version


class Command(BaseCommand):
    help = "Hash and record a weights file or directory (ONNX, safetensors, npz, CTranslate2) as a model version."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("plugin")
        parser.add_argument("version")
        parser.add_argument("weights", type=Path)
        parser.add_argument("--note", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = register_model_version(actor=None, plugin=options["plugin"], version=options["version"],
                                           weights=options["weights"], note=options["note"])
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"registered {model} with {len(model.artifacts)} file(s)")
