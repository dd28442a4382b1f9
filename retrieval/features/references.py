"""Reference recordings: matching right after the audio_fingerprint plugin, the ``recording``
watchlist matcher, the "Recording matches" timeline row and the matches panel of the media page."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.urls import reverse

from retrieval.models import Finding, MediaItem, Watchlist, WatchlistKind
from retrieval.services import plugins, references
from retrieval.services.panels import Panel, TimelineSegment, register_panel, register_timeline
from retrieval.services.watchlists import Match, register_matcher

TRACK = "Recording matches"

plugins.register_post_process(references.PLUGIN)(references.match_batch)


@register_matcher(kind=WatchlistKind.RECORDING, plugins={references.PLUGIN}, default_threshold=0.995)
def match_recordings(watchlist: Watchlist, media: MediaItem, findings: Sequence[Finding]) -> Iterator[Match]:
    """Score = calibrated confidence (1 - false-positive rate on non-reference audio)."""
    return references.recording_matches(watchlist, media, findings)


def _title(occ: references.Occurrence) -> str:
    return occ.recording.title if occ.recording is not None else f"reference #{occ.recording_id} (another case)"


@register_timeline
def recording_track(media: MediaItem, user: Any) -> Iterable[TimelineSegment]:
    for occ in references.occurrences_for(media, user):
        href = (reverse("reference-collection-detail", args=[occ.recording.collection_id]) + f"#rec-{occ.recording_id}"
                if occ.recording is not None else "")
        yield TimelineSegment(track=TRACK, start_s=occ.start_s, end_s=occ.end_s, label=_title(occ),
                              score=occ.confidence, href=href)


@register_panel
def recording_panel(media: MediaItem, user: Any) -> Panel | None:
    if media.kind not in ("audio", "video"):
        return None
    occurrences = references.occurrences_for(media, user)
    if not occurrences:
        return None
    rows = [{"occ": o, "title": _title(o), "left": 100 * o.start_s / media.duration_s if media.duration_s else 0,
             "width": max(0.5, 100 * (o.end_s - o.start_s) / media.duration_s) if media.duration_s else 0}
            for o in occurrences]
    return Panel("recording-matches", "Known recordings in this item", "retrieval/references/_matches_panel.html",
                 {"rows": rows, "media": media}, order=30)
