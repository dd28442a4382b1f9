"""Partition the findings table by embedding space (retrieval.services.partitioning); a maintenance-window step."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from retrieval.services import partitioning


class Command(BaseCommand):
    help = ("Turn retrieval_finding into a table partitioned by space (the existing table becomes the default "
            "partition), and/or give the named spaces their own partitions.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--space", type=int, action="append", default=[],
                            help="move this space (EmbeddingSpace id) into its own partition; repeatable")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if not partitioning.is_partitioned():
                done = partitioning.partition_findings()
                self.stdout.write(f"partitioned {partitioning.TABLE}; dropped foreign keys: "
                                  f"{', '.join(done['dropped_foreign_keys']) or 'none'}; next id {done['next_id']}")
            for space in options["space"]:
                moved = partitioning.move_space(space)
                self.stdout.write(f"space {space}: {moved} findings in {partitioning.partition_name(space)}")
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for name, bound in partitioning.partitions():
            self.stdout.write(f"  {name}: {bound}")
