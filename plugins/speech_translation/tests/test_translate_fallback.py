"""Whisper's translate task is run only on segments whose transcript already passed the hallucination guards.

The speech is established by then (VAD + transcript guards), so the translate pass must not judge "is this
speech?" again: with its own no-speech gate, robotic or accented speech kept its transcript but lost its English
(empty ``text_en``). Stock phrases and repetition loops in the translation are still dropped.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from plugins.speech_translation.asr import DecodeOptions, WhisperAsr


class RecordingWhisper:
    """Stands in for faster-whisper's ``WhisperModel.transcribe`` (third-party), recording its keywords."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.kwargs: dict = {}

    def transcribe(self, audio, **kwargs):
        self.kwargs = kwargs
        return [SimpleNamespace(text=t) for t in self.texts], SimpleNamespace(language=kwargs.get("language"))


def asr_with(texts: list[str]) -> tuple[WhisperAsr, RecordingWhisper]:
    asr = WhisperAsr.__new__(WhisperAsr)  # no weights needed: only translate() is exercised
    asr.model = RecordingWhisper(texts)
    return asr, asr.model


def test_translate_does_not_reapply_the_no_speech_gate():
    asr, model = asr_with([" The car is parked", " in front of the bank."])
    out = asr.translate(np.zeros(16_000, np.float32), "pt", DecodeOptions())
    assert out == "The car is parked in front of the bank."
    assert model.kwargs["task"] == "translate" and model.kwargs["language"] == "pt"
    assert model.kwargs["no_speech_threshold"] is None and model.kwargs["log_prob_threshold"] is None


def test_stock_phrases_and_repetition_loops_are_still_dropped():
    asr, _ = asr_with([" Thank you for watching."])
    assert asr.translate(np.zeros(16_000, np.float32), "ca", DecodeOptions()) == ""
    asr, _ = asr_with([" I'm not going to do that," * 12])
    assert asr.translate(np.zeros(16_000, np.float32), "ca", DecodeOptions()) == ""
