"""Byte ranges on the evidence player (seeking in audio and video), still members only and audited once."""

from __future__ import annotations

import pytest

from retrieval.http_ranges import UnsatisfiableRange, parse_range
from retrieval.models import AuditEvent
from tests import samples
from tests.helpers import process_inline, upload

pytestmark = pytest.mark.django_db


def test_parse_range() -> None:
    assert parse_range("bytes=0-99", 1000) == (0, 99)
    assert parse_range("bytes=900-", 1000) == (900, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    assert parse_range("bytes=950-5000", 1000) == (950, 999)
    assert parse_range("bytes=0-1,5-9", 1000) is None  # multiple ranges: send the whole file
    assert parse_range("items=0-5", 1000) is None
    for bad in ("bytes=1000-", "bytes=5-2", "bytes=-0"):
        with pytest.raises(UnsatisfiableRange):
            parse_range(bad, 1000)


def test_player_gets_partial_content_and_outsiders_get_404(client, api, personas) -> None:
    data = samples.wav_bytes(1.0)
    media_id = upload(api("alice"), personas["case"].pk, "call.wav", data).json()[0]["media"]["id"]
    assert process_inline(media_id).kind == "audio"
    client.force_login(personas["bob"])
    url = f"/media/{media_id}/file/?inline=1"
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:200]
    assert client.get(url, HTTP_RANGE=f"bytes={len(data)}-").status_code == 416
    plays = AuditEvent.objects.filter(action="media.play", target_id=str(media_id), actor_name="bob").count()
    assert plays == 1  # the whole-file request; seeks are not separate plays
    client.force_login(personas["charlie"])
    assert client.get(url, HTTP_RANGE="bytes=0-10").status_code == 404
