"""Hallucination guards on decoded segments (no model needed)."""

from __future__ import annotations

import pytest

from plugins.speech_translation.asr import AsrSegment, DecodeOptions, keep_segment, looks_hallucinated

OPTS = DecodeOptions()


def seg(text: str, logprob: float = -0.2, no_speech: float = 0.01, ratio: float = 1.2, p: float = 0.9) -> AsrSegment:
    words = [(w, 0.0, 0.1, p) for w in text.split()]
    return AsrSegment(0.0, 1.0, text, logprob, no_speech, ratio, words)


@pytest.mark.parametrize("text", ["Thank you for watching.", "Thank you.", "you", "Please subscribe!",
                                  "Subtitles by the Amara.org community", "See you in the next video."])
def test_it_recognises_stock_phrases(text):
    assert looks_hallucinated(text)


@pytest.mark.parametrize("text", ["He said thank you to the officer.", "The north wind and the sun.",
                                  "So, the police came."])
def test_it_leaves_normal_sentences_alone(text):
    assert not looks_hallucinated(text)


def test_it_keeps_a_confident_real_segment():
    assert keep_segment(seg("He was not an ill-disposed young man."), OPTS)


@pytest.mark.parametrize("bad", [
    seg("♪ ♪"), seg("..."), seg(""),
    seg("Thank you for watching.", no_speech=0.3),  # stock phrase with a no-speech hint
    seg("Thank you.", p=0.5),  # stock phrase said unsurely
    seg("la la la la la la la la la la", ratio=3.1),  # repetition loop
    seg("something", logprob=-1.2, no_speech=0.7),  # Whisper's own no-speech rule
    seg("something", logprob=-1.7),  # decode failed
    seg("mumbled words here", p=0.2),  # low word confidence
])
def test_it_drops_invented_text(bad):
    assert not keep_segment(bad, OPTS)


def test_it_keeps_a_confidently_spoken_stock_phrase():
    assert keep_segment(seg("Thank you.", p=0.95, no_speech=0.01), OPTS)
