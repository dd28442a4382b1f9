"""Audio events on the media page: a spectrogram panel with coloured event bars and the
"Audio events" row of the combined timeline (the video timeline shows the same events)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from retrieval.models import MediaItem
from retrieval.services import audio_events
from retrieval.services.panels import Panel, TimelineSegment, register_panel, register_timeline
from retrieval.services.search_portal import SearchMode, register_search_mode


@register_timeline
def audio_event_track(media: MediaItem, user: Any) -> Iterable[TimelineSegment]:
    for seg in audio_events.timeline_segments(media):
        yield TimelineSegment(track=audio_events.TRACK, **seg)


@register_panel
def audio_event_panel(media: MediaItem, user: Any) -> Panel | None:
    context = audio_events.panel_context(media)
    if context is None:
        return None
    return Panel("audio-events", "Audio events", "retrieval/_audio_events_panel.html", context, order=20)


register_search_mode(SearchMode(
    key="audio_events", title="Sound events", asks_with="event types", order=40, url_name="audio-event-search",
    description="Gunshots, explosions, sirens, screams, breaking glass… with their times, in the cases and dates "
                "you choose; from any event, find sounds like it.",
))
