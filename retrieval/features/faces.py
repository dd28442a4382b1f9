"""Faces: video face tracks and incremental person assignment after face jobs, the person
watchlist matcher, the media-page face panel and the "Faces" timeline row (logic in services.faces)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from retrieval.models import MediaItem, WatchlistKind
from retrieval.services import faces
from retrieval.services.hooks import after_findings_stored
from retrieval.services.panels import Panel, TimelineSegment, register_panel, register_timeline
from retrieval.services.search_portal import SearchMode, register_search_mode
from retrieval.services.watchlists import register_matcher

after_findings_stored(plugins=faces.TRACKED_PLUGINS)(faces.on_faces_stored)

#: Calibrated score (``faces.calibrate``): 0.5 is the plugin's operating threshold.
register_matcher(kind=WatchlistKind.PERSON, plugins={faces.FACE_PLUGIN}, default_threshold=0.5)(
    faces.watchlist_matches)


@register_panel
def face_panel(media: MediaItem, user: Any) -> Panel | None:
    """Face crops with detector score, quality and person; for a video one row per face track."""
    items = faces.panel_items(media)
    if not items:
        return None
    return Panel("faces", f"Faces ({len(items)})", "retrieval/_faces_panel.html",
                 {"items": items, "media": media, "threshold": faces.match_threshold(),
                  "font": round(max(media.width or 0, media.height or 0) / 45, 1) or 14}, order=30)


@register_timeline
def face_tracks(media: MediaItem, user: Any) -> Iterable[TimelineSegment]:
    tracks = faces.tracks_for(media)
    persons = faces.person_of(t.best_id for t in tracks if t.best_id)
    for t in tracks:
        person = persons.get(t.best_id)
        label = person.display_name if person else f"Face {t.index + 1} ({t.face_count} frames)"
        yield TimelineSegment(track="Faces", start_s=t.start_s, end_s=max(t.end_s, t.start_s + 0.5), label=label,
                              score=t.best_quality, href=f"/persons/{person.pk}/" if person else "")


register_search_mode(SearchMode(
    key="faces", title="Faces", asks_with="photo", order=10, url_name="face-probe",
    description="Drop a photo of a face: the people in your cases who match it, with calibrated scores; "
                "below the threshold the answer is “unknown”.",
))
