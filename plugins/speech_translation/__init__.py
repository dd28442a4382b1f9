"""mmsec speech_translation plugin: transcribe, translate to English, embed for transcript search."""

from __future__ import annotations

from plugins.speech_translation.plugin import SpeechTranslationPlugin

__all__ = ["SpeechTranslationPlugin"]
