"""Periodic re-hashing of stored originals (the evidence store's integrity check).

Originals are written once and made read-only (``retrieval.storage``); this proves it stays so.
Each run takes the items checked longest ago (never-checked first), bounded by a count and a byte
budget, hashes each stored object once (items of several cases may share one file), and records the
result per item in ``IntegrityCheck``. A mismatch or a missing file is an ``integrity.failed`` audit
event on the item's case (once, when the item's state turns bad) and is returned to the caller, so an
alert can be raised from it (the beat task calls :func:`verify_originals`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from retrieval import storage
from retrieval.models import IntegrityCheck, MediaItem
from retrieval.services import audit


@dataclass(frozen=True)
class Mismatch:
    media_id: int
    case_id: int
    expected_sha256: str
    actual_sha256: str  # "" when the file is missing or unreadable
    reason: str


def _hash(sha256: str) -> tuple[str, str]:
    """(actual digest, error) of the stored object for ``sha256``."""
    try:
        return storage.hash_file(storage.object_path(sha256)), ""
    except FileNotFoundError:
        return "", "the stored original is missing"
    except OSError as exc:
        return "", f"the stored original cannot be read: {exc.strerror or exc}"[:300]


def verify_originals(limit: int | None = None, max_bytes: int | None = None) -> list[Mismatch]:
    """Re-hash up to ``limit`` items / ``max_bytes`` bytes of originals, oldest check first; return the mismatches."""
    limit = int(settings.MMSEC_INTEGRITY_BATCH if limit is None else limit)
    max_bytes = int(settings.MMSEC_INTEGRITY_MAX_BYTES if max_bytes is None else max_bytes)
    items = list(MediaItem.objects.order_by(F("integrity__checked_at").asc(nulls_first=True), "id")
                 .select_related("integrity")[:limit])
    digests: dict[str, tuple[str, str]] = {}
    hashed_bytes = 0
    mismatches: list[Mismatch] = []
    for item in items:
        if item.sha256 not in digests:
            if digests and hashed_bytes + item.size > max_bytes:
                break  # the byte budget is spent: the next run starts here
            digests[item.sha256] = _hash(item.sha256)
            hashed_bytes += item.size
        actual, error = digests[item.sha256]
        ok = not error and actual == item.sha256
        if not ok and not error:
            error = "the stored original no longer matches its SHA-256"
        previous = getattr(item, "integrity", None)
        IntegrityCheck.objects.update_or_create(media=item, defaults={
            "checked_at": timezone.now(), "ok": ok, "actual_sha256": actual, "error": error})
        if ok:
            if previous is not None and not previous.ok:
                audit.record("integrity.restored", target=item, case_id=item.case_id, details={"sha256": actual})
            continue
        mismatches.append(Mismatch(item.pk, item.case_id, item.sha256, actual, error))
        if previous is None or previous.ok:
            audit.record("integrity.failed", target=item, case_id=item.case_id,
                         details={"expected": item.sha256, "actual": actual, "reason": error})
    return mismatches


def failed_items() -> list[int]:
    """Ids of media items whose last integrity check failed."""
    return list(IntegrityCheck.objects.filter(ok=False).values_list("media_id", flat=True))
