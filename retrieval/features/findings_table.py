"""Generic timeline rows for any plugin's timed findings not drawn by a dedicated feature."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from retrieval.models import Finding, MediaItem
from retrieval.services.panels import TimelineSegment, register_timeline

#: Plugins whose findings a dedicated feature module draws itself.
DEDICATED: set[str] = {"audio_events", "speech_translation", "face", "face_dlib", "audio_fingerprint"}


@register_timeline
def labelled_findings(media: MediaItem, user: Any) -> Iterable[TimelineSegment]:
    rows = (Finding.objects.filter(media=media, start_s__isnull=False).exclude(plugin__in=DEDICATED)
            .exclude(label="").values_list("plugin", "label", "start_s", "end_s", "score")[:2000])
    for plugin, label, start, end, score in rows:
        yield TimelineSegment(track=plugin, start_s=start, end_s=max(end or start, start), label=label, score=score)
