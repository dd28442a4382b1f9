"""What each feature adds to the media page: panels and rows of the one combined timeline.

Features (faces, audio events, transcripts, recording matches, fingerprints...)
register here from their ``retrieval/features/<topic>.py`` module instead of
editing the media page: ``@register_panel`` returns a ``Panel`` (a template and
its context) or ``None`` when it has nothing to show for this item;
``@register_timeline`` yields ``TimelineSegment``s, drawn by the page as one
timeline with a row per track that seeks the player when clicked.

Every function receives the viewing user and MUST only show data of the media
item (already permission-checked by the view) or of cases visible to that user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from retrieval.models import MediaItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimelineSegment:
    """One bar on the media timeline (times in seconds from the start of the media)."""

    track: str  # row name, e.g. "Faces", "Audio events", "Transcript", "Recording matches"
    start_s: float
    end_s: float
    label: str
    score: float | None = None
    href: str = ""  # where a double-click goes (person, alert, reference recording)
    color: str = ""  # CSS colour; empty = the track's default


@dataclass(frozen=True)
class Panel:
    """A titled section of the media page rendered from ``template`` with ``context``."""

    key: str
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


PanelFn = Callable[[MediaItem, Any], Panel | None]
TimelineFn = Callable[[MediaItem, Any], Iterable[TimelineSegment]]

_PANELS: list[PanelFn] = []
_TIMELINES: list[TimelineFn] = []


def register_panel(fn: PanelFn) -> PanelFn:
    if fn not in _PANELS:
        _PANELS.append(fn)
    return fn


def register_timeline(fn: TimelineFn) -> TimelineFn:
    if fn not in _TIMELINES:
        _TIMELINES.append(fn)
    return fn


def panels_for(media: MediaItem, user: Any) -> list[Panel]:
    """Panels of every feature for this item; a failing feature is logged and left out, not a 500."""
    panels = []
    for fn in _PANELS:
        try:
            panel = fn(media, user)
        except Exception:  # noqa: BLE001 - one feature's bug must not hide the evidence page
            log.exception("panel %s failed for media %s", getattr(fn, "__name__", fn), media.pk)
            continue
        if panel is not None:
            panels.append(panel)
    return sorted(panels, key=lambda p: (p.order, p.title))


def timeline_for(media: MediaItem, user: Any) -> list[dict[str, Any]]:
    """All segments of all features, as JSON-ready dicts sorted by track then time."""
    segments: list[TimelineSegment] = []
    for fn in _TIMELINES:
        try:
            segments.extend(fn(media, user))
        except Exception:  # noqa: BLE001
            log.exception("timeline %s failed for media %s", getattr(fn, "__name__", fn), media.pk)
    segments.sort(key=lambda s: (s.track, s.start_s, s.end_s))
    return [asdict(s) for s in segments]
