"""mmsec plugin: timestamped sound events (AudioSet via YAMNet) and segment embeddings for search by example."""

from __future__ import annotations

from plugins.audio_events.plugin import AudioEventPlugin

__all__ = ["AudioEventPlugin"]
