"""Search by audio clip: the portal's "audio clip" mode (logic in services.audio_probe)."""

from __future__ import annotations

from retrieval.services.search_portal import SearchMode, register_search_mode

register_search_mode(SearchMode(
    key="audio_probe", title="Audio clip", asks_with="audio clip", order=15, url_name="audio-probe",
    description="Drop a short clip (or a video: its sound): which known reference recording it is, with the "
                "time in the recording, and where similar sounds occur in your cases.",
))
