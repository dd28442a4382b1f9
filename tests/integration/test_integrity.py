"""Stored originals are never modified by processing, and the periodic integrity task catches tampering."""

from __future__ import annotations

import os
import stat

import pytest
from django.conf import settings as django_settings

from retrieval import storage
from retrieval.models import AuditEvent, IntegrityCheck, MediaItem
from retrieval.services import integrity
from tests import samples
from tests.conftest import wait_for
from tests.helpers import process_inline, upload


def _upload(api, case_id: int, name: str, data: bytes) -> MediaItem:
    return process_inline(upload(api("alice"), case_id, name, data).json()[0]["media"]["id"])


def _tamper(sha256: str, extra: bytes = b"x") -> None:
    path = storage.object_path(sha256)
    os.chmod(path, 0o640)
    with open(path, "ab") as fh:
        fh.write(extra)


@pytest.mark.django_db
def test_processing_never_modifies_originals(api, personas) -> None:
    items = [_upload(api, personas["case"].pk, name, data) for name, data in [
        ("p.png", samples.png_bytes(120, 80)), ("j.jpg", samples.jpeg_bytes(exif_orientation=6)),
        ("a.wav", samples.wav_bytes(0.5)), ("v.mp4", samples.mp4_bytes(seconds=1.0))]]
    for item in items:
        assert item.status == "ready", item.error
        path = storage.object_path(item.sha256)
        assert storage.hash_file(path) == item.sha256
        assert stat.S_IMODE(path.stat().st_mode) == 0o440  # read-only once stored
    assert integrity.verify_originals() == []
    assert IntegrityCheck.objects.filter(ok=True).count() == len(items)


@pytest.mark.django_db
def test_a_modified_original_is_reported_once_per_item_and_flagged(api, personas) -> None:
    data = samples.png_bytes(70, 50)
    mine = _upload(api, personas["case"].pk, "p.png", data)
    # the same bytes in another case share the stored file
    theirs = process_inline(upload(api("charlie"), personas["other_case"].pk, "q.png", data).json()[0]["media"]["id"])
    assert integrity.verify_originals() == []
    _tamper(mine.sha256)

    found = integrity.verify_originals()
    assert {(m.media_id, m.case_id) for m in found} == {(mine.pk, mine.case_id), (theirs.pk, theirs.case_id)}
    assert all(m.actual_sha256 and m.actual_sha256 != mine.sha256 and "no longer matches" in m.reason for m in found)
    assert set(integrity.failed_items()) == {mine.pk, theirs.pk}
    events = AuditEvent.objects.filter(action="integrity.failed")
    assert sorted(events.values_list("case_id", flat=True)) == sorted([mine.case_id, theirs.case_id])
    # Still broken on the next run: returned again (for the alert), audited only once.
    assert len(integrity.verify_originals()) == 2 and events.count() == 2
    # Restored from a backup: flagged good again, and that is audited too.
    path = storage.object_path(mine.sha256)
    path.write_bytes(data)
    assert integrity.verify_originals() == []
    assert AuditEvent.objects.filter(action="integrity.restored").count() == 2
    assert integrity.failed_items() == []


@pytest.mark.django_db
def test_a_missing_original_is_a_mismatch(api, personas) -> None:
    item = _upload(api, personas["case"].pk, "p.png", samples.png_bytes())
    storage.object_path(item.sha256).unlink()
    [found] = integrity.verify_originals()
    assert (found.media_id, found.actual_sha256, found.reason) == (item.pk, "", "the stored original is missing")


@pytest.mark.django_db
def test_runs_are_bounded_and_resume_with_the_oldest_checks(api, personas) -> None:
    items = [_upload(api, personas["case"].pk, f"{i}.png", samples.png_bytes(30 + i, 30)) for i in range(3)]
    integrity.verify_originals(limit=2)
    assert IntegrityCheck.objects.count() == 2
    integrity.verify_originals(limit=2)  # the never-checked one first
    assert IntegrityCheck.objects.count() == 3
    integrity.verify_originals(max_bytes=1)  # a byte budget still checks at least one file per run
    assert IntegrityCheck.objects.filter(checked_at__gt=min(c.checked_at for c in IntegrityCheck.objects.all())
                                         ).count() >= 1
    assert len(items) == 3


def test_celery_beat_runs_the_integrity_task(personas, worker_factory, api) -> None:
    assert django_settings.CELERY_BEAT_SCHEDULE["verify-originals"]["task"] == "mmsec.retrieval.verify_originals"
    item = MediaItem.objects.get(pk=upload(api("alice"), personas["case"].pk, "p.png",
                                           samples.png_bytes()).json()[0]["media"]["id"])
    worker = worker_factory()
    _tamper(item.sha256)
    from retrieval.tasks import verify_originals

    verify_originals.delay()
    wait_for(lambda: AuditEvent.objects.filter(action="integrity.failed", target_id=str(item.pk)).exists(),
             timeout=60, what="the integrity task in the worker", on_timeout=worker.log)
    assert IntegrityCheck.objects.get(media=item).ok is False


test_celery_beat_runs_the_integrity_task = pytest.mark.worker(
    pytest.mark.django_db(transaction=True)(test_celery_beat_runs_the_integrity_task))


@pytest.mark.django_db
def test_a_mismatch_raises_one_alert_per_item_for_the_case_owners(api, personas) -> None:
    from retrieval.models import Alert
    from retrieval.services import watchlists

    item = _upload(api, personas["case"].pk, "p.png", samples.png_bytes(64, 48))
    _tamper(item.sha256)
    alerts = watchlists.raise_integrity_alerts(integrity.verify_originals())
    assert [(a.media_id, a.plugin) for a in alerts] == [(item.pk, "integrity")]
    alert = alerts[0]
    assert alert.details["expected_sha256"] == item.sha256 and alert.watchlist.kind == "integrity"
    assert list(alert.watchlist.notify_users.all()) == [personas["alice"]]
    assert watchlists.raise_integrity_alerts(integrity.verify_originals()) == []  # not repeated
    assert Alert.objects.visible_to(personas["victor"]).filter(pk=alert.pk).exists()  # members see it
    assert not Alert.objects.visible_to(personas["charlie"]).exists()
