"""Import every audio file under a folder into a reference collection, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from retrieval.models import ReferenceCollection
from retrieval.services import references


class _Bar:
    """tqdm when installed, else a one-line text bar on stderr."""

    def __init__(self, total: int) -> None:
        self.total, self.n = total, 0
        try:
            from tqdm import tqdm

            self.tqdm: Any = tqdm(total=total, unit="file", file=sys.stderr, dynamic_ncols=True)
        except ImportError:
            self.tqdm = None

    def update(self, note: str) -> None:
        self.n += 1
        if self.tqdm is not None:
            self.tqdm.set_postfix_str(note[:40], refresh=False)
            self.tqdm.update(1)
            return
        width = 30
        filled = int(width * self.n / max(1, self.total))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.n}/{self.total} {note[:40]:<40}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
        else:
            sys.stderr.write("\n")


class Command(BaseCommand):
    help = ("Import every audio/video file under DIR into a reference collection (given by id or name), "
            "fingerprint it, and skip files already in the collection (same SHA-256).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("collection", help="collection id or (unique) name")
        parser.add_argument("dir", type=Path)
        parser.add_argument("--batch-size", type=int, default=32, help="files per hash generation (one COPY)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            collection = references.find_collection(options["collection"])
        except (ReferenceCollection.DoesNotExist, ValidationError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        folder: Path = options["dir"]
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a directory")
        files, others = references.audio_files(folder)
        self.stdout.write(f"{len(files)} audio file(s) under {folder} → “{collection.name}” "
                          f"(case “{collection.case.title}”)")
        bar = _Bar(len(files))
        try:
            report = references.import_folder(collection, files, batch_size=max(1, options["batch_size"]),
                                              on_file=lambda path, outcome: bar.update(f"{outcome}: {path.name}"))
        finally:
            bar.close()
        report.ignored = [str(p) for p in others]
        self.stdout.write(f"added {report.added}, already present {report.present}, failed {len(report.failed)}, "
                          f"ignored {len(report.ignored)} (not audio/video file names)")
        for path, reason in report.failed:
            self.stdout.write(self.style.ERROR(f"FAILED {path}: {reason}"))
        for path in report.ignored[:20]:
            self.stdout.write(f"ignored {path}")
        if report.failed:
            raise CommandError(f"{len(report.failed)} file(s) could not be imported (listed above)")
