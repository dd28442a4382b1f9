"""Media page extension points: feature panels and the combined timeline."""

from __future__ import annotations

import json

import pytest

from retrieval.models import MediaItem
from retrieval.services import panels
from retrieval.services.embeddings import NewFinding, store_findings
from tests import samples
from tests.helpers import upload

pytestmark = pytest.mark.django_db


def _media(api, personas) -> MediaItem:
    response = upload(api("alice"), personas["case"].pk, "clip.wav", samples.wav_bytes(1.0))
    return MediaItem.objects.get(pk=response.json()[0]["media"]["id"])


def test_generic_rows_and_a_broken_feature_do_not_break_the_page(client, api, personas, monkeypatch) -> None:
    media = _media(api, personas)
    store_findings(media, "image_phash", "v", [NewFinding(key="audio:0:0", label="loud", start_s=0.2, end_s=0.7)])

    def broken(media, user):
        raise RuntimeError("feature bug")

    def extra(media, user):
        return panels.Panel(key="extra", title="Extra panel", template="retrieval/_score.html", context={})

    monkeypatch.setattr(panels, "_PANELS", [broken, extra])
    monkeypatch.setattr(panels, "_TIMELINES", [*panels._TIMELINES, broken])
    client.force_login(personas["alice"])
    page = client.get(f"/media/{media.pk}/?t=0.5")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Extra panel" in body and 'data-t="0.5"' in body
    data = json.loads(body.split('id="timeline-data" type="application/json">')[1].split("</script>")[0])
    assert data == [{"track": "image_phash", "start_s": 0.2, "end_s": 0.7, "label": "loud", "score": None,
                     "href": "", "color": ""}]
