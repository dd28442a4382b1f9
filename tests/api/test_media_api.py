"""Evidence intake and media access through /api/v1/: streaming, hashing, dedup, bad input, permissions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from retrieval import storage
from retrieval.models import AuditEvent, MediaItem
from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db


def _temp_files() -> list[Path]:
    return list(storage.tmp_dir().glob("*"))


def test_it_stores_an_upload_by_sha256_and_processes_it(api, personas) -> None:
    data = samples.png_bytes(120, 90)
    response = upload(api("bob"), personas["case"].pk, "scene.png", data)
    assert response.status_code == 201, response.content
    body = response.json()[0]
    assert body["created"] is True
    media = MediaItem.objects.get(pk=body["media"]["id"])
    assert media.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.object_path(media.sha256).read_bytes() == data
    assert media.status == "pending"
    media = process_inline(media.pk)
    assert (media.status, media.kind, media.mime, media.width, media.height) == ("ready", "image", "image/png", 120, 90)
    assert media.has_preview and storage.preview_path(media.pk).exists()
    assert _temp_files() == []


def test_it_deduplicates_within_a_case_but_not_across_cases(api, personas) -> None:
    data = samples.wav_bytes(0.5)
    first = upload(api("alice"), personas["case"].pk, "a.wav", data).json()[0]
    again = upload(api("bob"), personas["case"].pk, "renamed.wav", data).json()[0]
    other = upload(api("charlie"), personas["other_case"].pk, "a.wav", data).json()[0]
    assert first["created"] and not again["created"] and other["created"]
    assert again["media"]["id"] == first["media"]["id"]
    assert MediaItem.objects.filter(sha256=hashlib.sha256(data).hexdigest()).count() == 2


def test_it_accepts_several_files_in_one_request(api, personas) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile("1.png", samples.png_bytes(10, 10)), SimpleUploadedFile("2.wav", samples.wav_bytes())]
    response = api("alice").post("/api/v1/media/", {"case": personas["case"].pk, "file": files}, format="multipart")
    assert response.status_code == 201
    assert len(response.json()) == 2


@pytest.mark.parametrize(("name", "data_fn", "reason"), [
    ("empty.png", lambda: b"", "empty"),
    ("text.jpg", lambda: b"this is not a picture\n" * 10, "unsupported file type"),
    ("bomb.png", lambda: samples.png_header_claiming(100_000, 100_000), "above the limit"),
    ("cut.jpg", lambda: samples.jpeg_bytes()[:300], "could not be read"),
    ("cut.mp4", lambda: samples.mp4_bytes()[:3000], "could not be read"),
    ("cut.wav", lambda: samples.wav_bytes()[:20], "could not be read"),
])
def test_bad_files_end_failed_with_a_readable_reason(api, personas, name: str, data_fn, reason: str) -> None:
    response = upload(api("bob"), personas["case"].pk, name, data_fn())
    assert response.status_code == 201
    media = process_inline(response.json()[0]["media"]["id"])
    assert media.status == "failed"
    assert reason in media.error
    assert str(settings.MMSEC_STORAGE_DIR) not in media.error
    status = api("bob").get(f"/api/v1/media/{media.pk}/status/").json()
    assert status["status"] == "failed" and status["jobs"][0]["state"] == "failed"


@pytest.mark.parametrize(("raw", "expected"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("evil\x00name.png", "evilname.png"),
    ("\x01\x02", "upload"),
    (".hidden", "hidden"),
])
def test_it_sanitises_file_names(api, personas, raw: str, expected: str) -> None:
    from retrieval.services.ingest import safe_name

    assert safe_name(raw) == expected
    assert safe_name(b"caf\xe9.png") == "caf\ufffd.png"


def test_it_refuses_files_over_the_limit_with_413_and_leaves_nothing(api, personas) -> None:
    with override_settings(MMSEC_MAX_UPLOAD_BYTES=1000):
        response = upload(api("bob"), personas["case"].pk, "big.wav", samples.wav_bytes(1.0))
    assert response.status_code == 413
    assert MediaItem.objects.count() == 0
    assert _temp_files() == []


def test_viewers_and_outsiders_cannot_upload(api, personas) -> None:
    assert upload(api("victor"), personas["case"].pk, "a.png", samples.png_bytes()).status_code == 400
    assert upload(api("charlie"), personas["case"].pk, "a.png", samples.png_bytes()).status_code == 404
    assert MediaItem.objects.count() == 0
    assert _temp_files() == []


@pytest.mark.parametrize("payload", [{}, {"case": "abc"}, {"case": 999999}])
def test_it_rejects_bad_upload_payloads(api, personas, payload) -> None:
    response = api("alice").post("/api/v1/media/", payload, format="multipart")
    assert response.status_code in (400, 404)
    assert _temp_files() == []


def test_outsiders_get_404_for_media_files_previews_and_status(api, personas) -> None:
    media_id = upload(api("alice"), personas["case"].pk, "a.png", samples.png_bytes()).json()[0]["media"]["id"]
    process_inline(media_id)
    for who in ("charlie", "staff"):
        for suffix in ("", "download/", "preview/", "status/"):
            assert api(who).get(f"/api/v1/media/{media_id}/{suffix}").status_code == 404, (who, suffix)
        assert api(who).get("/api/v1/media/").json()["results"] == []


def test_members_download_the_exact_bytes_and_it_is_audited(api, personas) -> None:
    data = samples.jpeg_bytes()
    media_id = upload(api("alice"), personas["case"].pk, "x.jpg", data).json()[0]["media"]["id"]
    response = api("victor").get(f"/api/v1/media/{media_id}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["X-Content-SHA256"] == hashlib.sha256(data).hexdigest()
    assert AuditEvent.objects.filter(action="media.download", target_id=str(media_id)).exists()


def test_it_filters_and_paginates_the_media_list(api, personas) -> None:
    client = api("alice")
    for i in range(5):
        upload(client, personas["case"].pk, f"{i}.png", samples.png_bytes(10 + i, 10))
    upload(client, personas["case"].pk, "a.wav", samples.wav_bytes())
    for media in MediaItem.objects.all():
        process_inline(media.pk)
    page = client.get("/api/v1/media/", {"case": personas["case"].pk, "page_size": 2}).json()
    assert page["count"] == 6 and len(page["results"]) == 2 and page["next"]
    assert client.get("/api/v1/media/", {"kind": "audio"}).json()["count"] == 1
    assert client.get("/api/v1/media/", {"case": "x"}).status_code == 400


def test_the_media_list_pages_by_keyset_cursor_and_stays_stable(api, personas) -> None:
    from datetime import timedelta

    from django.utils import timezone

    case = personas["case"]
    now = timezone.now()
    items = MediaItem.objects.bulk_create([
        MediaItem(case=case, original_name=f"{i}.bin", sha256=f"{i:064x}", size=1, kind="image" if i % 2 else "audio",
                  status="ready")
        for i in range(23)
    ])
    # three rows share one timestamp: ties must neither repeat nor vanish across pages
    for i, item in enumerate(items):
        MediaItem.objects.filter(pk=item.pk).update(uploaded_at=now - timedelta(seconds=i if i > 3 else 0))
    MediaItem.objects.create(case=personas["other_case"], original_name="x", sha256="f" * 64, size=1)
    expected = list(MediaItem.objects.filter(case=case).order_by("-uploaded_at", "-id").values_list("id", flat=True))
    client = api("bob")
    url, got = f"/api/v1/media/?case={case.pk}&page_size=5&cursor=", []
    while url:
        body = client.get(url).json()
        assert "count" not in body and len(body["results"]) <= 5
        got += [r["id"] for r in body["results"]]
        url = body["next"]
        if len(got) == 5:  # a newer upload must not shift the pages still to come
            MediaItem.objects.create(case=case, original_name="new", sha256="e" * 64, size=1)
    assert got == expected
    back = client.get(body["previous"]).json()
    assert [r["id"] for r in back["results"]] == expected[15:20]
    filtered = client.get("/api/v1/media/", {"case": case.pk, "kind": "image", "cursor": ""}).json()
    assert {r["kind"] for r in filtered["results"]} == {"image"}
    assert api(None).get("/api/v1/media/", {"cursor": ""}).status_code in (401, 403)
    theirs = api("charlie").get("/api/v1/media/", {"cursor": ""}).json()["results"]
    assert [r["case"] for r in theirs] == [personas["other_case"].pk]
    # page numbers still answer as before
    page = client.get("/api/v1/media/", {"case": case.pk, "page_size": 5, "page": 2}).json()
    assert page["count"] == 24 and len(page["results"]) == 5
