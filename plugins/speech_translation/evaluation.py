"""Scoring helpers shared by the tests and ``bench/speech.py`` (no heavy imports).

Public surface: ``normalize_en``, ``word_errors``, ``wer``.
"""

from __future__ import annotations

import re

_ABBREV = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}
_NUMBERS = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
            "8": "eight", "9": "nine", "10": "ten", "11": "eleven", "12": "twelve"}


def normalize_en(text: str) -> list[str]:
    """Lower-case words without punctuation; expands Mr./Mrs./Dr. and the numbers 0-12 (reference style)."""
    text = text.lower().replace("-", " ")
    words = re.sub(r"[^a-z0-9' ]+", " ", text).split()
    words = [w.strip("'") for w in words]
    return [_NUMBERS.get(w, _ABBREV.get(w, w)) for w in words if w]


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance in words, reference length) after ``normalize_en``."""
    r, h = normalize_en(ref), normalize_en(hyp)
    prev = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        cur = [i] + [0] * len(h)
        for j in range(1, len(h) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r[i - 1] != h[j - 1]))
        prev = cur
    return prev[len(h)], len(r)


def wer(ref: str, hyp: str) -> float:
    """Word error rate of one utterance."""
    errors, n = word_errors(ref, hyp)
    return errors / max(1, n)
