"""Disk full during an upload: a clean 507, no partial file, no rows, no audit entry; the next upload works."""

from __future__ import annotations

import errno
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from retrieval import storage
from retrieval.models import AuditEvent, MediaItem, ProcessingJob
from tests import samples
from tests.helpers import upload

pytestmark = pytest.mark.django_db


def _store_files() -> list[str]:
    root = storage.root()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def disk_fills_after(monkeypatch: pytest.MonkeyPatch):
    """Make the store's write layer fail with ENOSPC once ``limit`` bytes have been written."""
    state = {"limit": 0, "written": 0}
    real = storage.write_chunk

    def write_chunk(fh, data: bytes) -> None:
        if state["written"] + len(data) > state["limit"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        state["written"] += len(data)
        real(fh, data)

    def arm(limit: int) -> None:
        state.update(limit=limit, written=0)
        monkeypatch.setattr(storage, "write_chunk", write_chunk)

    return arm


def test_a_full_disk_mid_upload_leaves_nothing_behind(api, personas, disk_fills_after) -> None:
    before = (_store_files(), MediaItem.objects.count(), ProcessingJob.objects.count(), AuditEvent.objects.count())
    disk_fills_after(200_000)
    big = os.urandom(600_000)  # several upload chunks: the disk fills in the middle of the file
    response = upload(api("alice"), personas["case"].pk, "big.bin", big)
    assert response.status_code == 507, response.content
    assert "No space left on device" in response.json()["detail"] or "space" in str(response.json())
    after = (_store_files(), MediaItem.objects.count(), ProcessingJob.objects.count(), AuditEvent.objects.count())
    assert after == before


def test_a_full_disk_on_the_second_file_stores_none_of_the_request(api, personas, disk_fills_after) -> None:
    first, second = samples.png_bytes(), os.urandom(400_000)
    disk_fills_after(len(first) + 100_000)
    before = (_store_files(), MediaItem.objects.count())
    response = api("alice").post("/api/v1/media/", {"case": personas["case"].pk, "file": [
        SimpleUploadedFile("a.png", first), SimpleUploadedFile("b.bin", second)]}, format="multipart")
    assert response.status_code == 507
    assert (_store_files(), MediaItem.objects.count()) == before


def test_after_space_is_freed_uploads_work_again(api, personas, disk_fills_after, monkeypatch) -> None:
    disk_fills_after(10)
    assert upload(api("alice"), personas["case"].pk, "a.png", samples.png_bytes()).status_code == 507
    monkeypatch.undo()
    response = upload(api("alice"), personas["case"].pk, "a.png", samples.png_bytes())
    assert response.status_code == 201 and response.json()[0]["created"] is True
