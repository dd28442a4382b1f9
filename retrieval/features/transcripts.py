"""Speech transcripts on the media page: the "Transcript" panel and timeline track (logic in services.transcripts)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from plugins.speech_translation.asr import check_model_dir
from plugins.speech_translation.constants import WHISPER_DIR
from retrieval.models import MediaItem, ProcessingJob
from retrieval.services import transcripts
from retrieval.services.panels import Panel, TimelineSegment, register_panel, register_timeline
from retrieval.services.plugins import WeightsAdapter, register_weights_adapter
from retrieval.services.search_portal import SearchMode, register_search_mode

# An administrator-registered Whisper checkpoint (CTranslate2 directory) replaces only the bundled Whisper
# base; VAD and MiniLM stay (query vectors remain comparable across Whisper versions).
register_weights_adapter(transcripts.PLUGIN, WeightsAdapter(setting="whisper_model_dir", check=check_model_dir,
                                                            replaces=f"{WHISPER_DIR}/"))


@register_panel
def transcript_panel(media: MediaItem, user: Any) -> Panel | None:
    if media.kind not in ("audio", "video"):
        return None
    segments = transcripts.segments_for(media, user)
    job = (ProcessingJob.objects.filter(media=media, step__startswith=f"plugin:{transcripts.PLUGIN}@")
           .order_by("-id").first())
    if not segments and job is None:
        return None
    languages = Counter(s.language or "?" for s in segments)
    engines = Counter(s.engine or "?" for s in segments)
    return Panel(key="transcript", title="Transcript", template="retrieval/_transcript_panel.html", order=20,
                 context={"media": media, "segments": segments, "job": job,
                          "languages": languages.most_common(), "engines": engines.most_common(),
                          "hits": sum(1 for s in segments if s.hits),
                          "has_english": any(s.text_en and s.text_en != s.text for s in segments)})


@register_timeline
def transcript_track(media: MediaItem, user: Any) -> Iterable[TimelineSegment]:
    for s in transcripts.segments_for(media, user):
        label = f"[{s.language}] {s.text_en or s.text}" if s.language else (s.text_en or s.text)
        yield TimelineSegment(track="Transcript", start_s=s.start_s, end_s=s.end_s, label=label[:120],
                              score=s.confidence, color="#dc2626" if s.hits else "")


register_search_mode(SearchMode(
    key="transcripts", title="Transcripts", asks_with="words", order=30, url_name="transcript-search",
    description="What was said, in the original language or in English: exact words and phrases, or the meaning "
                "(semantic), with the moment to play.",
))
