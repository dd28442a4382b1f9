"""Evidence intake: store the bytes, record the item, queue its processing.

Upload streaming and hashing happen in ``retrieval.uploads`` before this runs;
this module turns a hashed temp file into a ``MediaItem`` exactly once per case
(same bytes uploaded again → the existing item is returned, marked duplicate).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from retrieval import storage
from retrieval.models import Case, MediaItem, MediaStatus
from retrieval.models.cases import WRITE_ROLES
from retrieval.services import audit, jobs
from retrieval.services.cases import require_role
from retrieval.uploads import HashedUpload

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_name(raw: Any) -> str:
    """A display name that cannot escape a directory or break a page: base name only, no control bytes."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    name = str(raw or "")
    name = unicodedata.normalize("NFC", name).encode("utf-8", errors="replace").decode("utf-8")
    name = name.replace("\\", "/").split("/")[-1]
    name = _CONTROL.sub("", name).strip().lstrip(".")
    return name[:255] or "upload"


@dataclass(frozen=True)
class IngestResult:
    media: MediaItem
    created: bool


def ingest_upload(*, actor: Any, case: Case, upload: HashedUpload, request: Any = None) -> IngestResult:
    """Commit an uploaded file to the store and create (or find) its media item."""
    require_role(case, actor, WRITE_ROLES)
    name = safe_name(upload.name)
    storage.commit_temp_file(upload.temp_path, upload.sha256)
    try:
        with transaction.atomic():
            media = MediaItem.objects.create(
                case=case,
                original_name=name,
                sha256=upload.sha256,
                size=upload.size,
                uploaded_by=actor,
                status=MediaStatus.PENDING,
            )
            audit.record("media.upload", actor=actor, target=media, case_id=case.pk,
                         details={"name": name, "sha256": upload.sha256, "size": upload.size}, request=request)
            jobs.schedule(media, "metadata")
    except IntegrityError:
        existing = MediaItem.objects.get(case=case, sha256=upload.sha256)
        audit.record("media.upload.duplicate", actor=actor, target=existing, case_id=case.pk,
                     details={"name": name, "sha256": upload.sha256}, request=request)
        return IngestResult(existing, created=False)
    return IngestResult(media, created=True)
