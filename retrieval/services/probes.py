"""Query by example: what every probe search (face photo, audio clip, fingerprint image) shares.

A probe is analysed in the web request by the active model of a plugin, in this process on CPU
(``run_plugin``), and never stored: not in the evidence store, not as a finding, not in a queue.
The only trace is the audit row each search writes (with the probe's SHA-256). ``check_file``
refuses, with a message for the user, what is empty, too big or of the wrong kind before any
model runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings

from retrieval import media_io
from retrieval.models import PluginConfiguration
from retrieval.weights import sha256_file

#: Largest probe file accepted (bytes); the audio probe analyses at most ``MAX_CLIP_S`` of it anyway.
MAX_PROBE_BYTES = 64 * 1024 * 1024
#: What a user may call each kind of file, for messages.
_KIND_WORDS = {"image": "an image", "audio": "an audio file", "video": "a video", "unknown": "not a known media file"}


class ProbeError(ValueError):
    """The probe cannot be searched; the message is shown to the user as is."""


@dataclass(frozen=True)
class ProbeFilters:
    """Where a probe search looks (form fields ``case`` (repeated), ``from``, ``to``, ``kind``, ``min_score``).

    ``case_ids`` narrows within the visible cases (never widens: the search adds visibility in SQL);
    ``min_score`` applies to the score the page shows (calibrated for faces and fingerprints, similarity
    for sounds)."""

    case_ids: list[int] | None = None
    media_kinds: list[str] | None = None
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None  # exclusive: the day after the "to" date
    min_score: float = 0.0
    raw: dict[str, Any] = field(default_factory=dict)  # the form values, to show them again

    def search_filters(self, **extra: Any) -> Any:
        from retrieval.services import search

        return search.SearchFilters(case_ids=self.case_ids, media_kinds=self.media_kinds,
                                    uploaded_after=self.uploaded_after, uploaded_before=self.uploaded_before,
                                    **extra)

    @property
    def active(self) -> bool:
        return bool(self.case_ids or self.media_kinds or self.uploaded_after or self.uploaded_before
                    or self.min_score)


def _day(value: str, name: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ProbeError(f"{name}: give a date like 2026-11-27") from exc
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_filters(query: Any, kinds: tuple[str, ...]) -> ProbeFilters:
    """Filters from a form or API payload; ``kinds`` are the media kinds this probe can find."""
    getlist = query.getlist if hasattr(query, "getlist") else lambda k: (
        query[k] if isinstance(query.get(k), list) else [query[k]]) if k in query else []
    raw_cases = [str(c).strip() for c in getlist("case") if str(c).strip()]
    if not all(c.isdigit() for c in raw_cases):
        raise ProbeError("case: give case ids")
    media_kinds = [k for k in getlist("kind") if k]
    if any(k not in kinds for k in media_kinds):
        raise ProbeError(f"kind: one of {', '.join(kinds)}")
    try:
        min_score = float(query.get("min_score") or 0.0)
    except (TypeError, ValueError) as exc:
        raise ProbeError("min_score: give a number between 0 and 1") from exc
    if math.isnan(min_score) or not 0.0 <= min_score <= 1.0:
        raise ProbeError("min_score: give a number between 0 and 1")
    after, until = _day(query.get("from", ""), "from"), _day(query.get("to", ""), "to")
    if after and until and until < after:
        raise ProbeError("the 'to' date is before the 'from' date")
    return ProbeFilters(case_ids=sorted({int(c) for c in raw_cases}) or None, media_kinds=media_kinds or None,
                        uploaded_after=after, uploaded_before=until + timedelta(days=1) if until else None,
                        min_score=min_score,
                        raw={"cases": [int(c) for c in raw_cases], "from": query.get("from", "") or "",
                             "to": query.get("to", "") or "", "kind": media_kinds[0] if media_kinds else "",
                             "min_score": query.get("min_score", "") or ""})


NO_FILTERS = ProbeFilters()



def max_probe_bytes() -> int:
    return int(getattr(django_settings, "MMSEC_MAX_PROBE_BYTES", MAX_PROBE_BYTES))


def check_file(path: Path, accept: set[str], what: str) -> media_io.Sniffed:
    """The sniffed kind of ``path`` when it is one of ``accept`` ("image", "audio", "video"); else ``ProbeError``."""
    size = path.stat().st_size
    if size == 0:
        raise ProbeError(f"the file is empty: send {what}")
    limit = max_probe_bytes()
    if size > limit:
        raise ProbeError(f"the file is {size / 2**20:.1f} MiB, above the probe limit of {limit / 2**20:.0f} MiB: "
                         f"send a shorter or smaller {what}")
    sniffed = media_io.sniff(path)
    if sniffed.kind not in accept:
        found = _KIND_WORDS.get(sniffed.kind, sniffed.kind)
        raise ProbeError(f"this file is {found} ({sniffed.mime}), not {what}")
    return sniffed


#: Streamed SHA-256 of the probe file (the audit rows' ``probe_sha256``).
sha256_of = sha256_file


def load_plugin(name: str) -> Any:
    """The active model of plugin ``name``, loaded once in this process (CPU); ``ProbeError`` when it cannot be."""
    from retrieval import inference
    from retrieval.models import ModelVersion
    from retrieval.plugin_api import PluginError
    from retrieval.plugin_registry import get_registry
    from retrieval.services.plugins import effective_settings

    cls = get_registry().get(name)
    config = PluginConfiguration.objects.filter(name=name).first()
    if cls is None or config is None:
        raise ProbeError(f"the {name} plugin is not installed")
    version = config.active_model_version or cls.model_version
    model = ModelVersion.objects.filter(plugin=name, version=version).first()
    model_dir = Path(django_settings.MMSEC_MODEL_DIR) / name
    if model and model.weights_path:
        model_dir = Path(model.weights_path)
    try:
        return inference.get_loaded(cls, version, effective_settings(config, cls), model_dir, "cpu",
                                    model.artifacts if model else []).plugin
    except (inference.ArtifactMismatch, PluginError, OSError, RuntimeError) as exc:
        raise ProbeError(f"the {name} model could not be loaded ({exc})") from exc


def run_plugin(name: str, item: Any) -> list[Any]:
    """Run the active model of plugin ``name`` on one ``plugin_api.Item`` in this process (CPU), loaded once.

    Returns the item's findings; raises ``ProbeError`` when the plugin is not installed or refuses the item.
    """
    [result] = load_plugin(name).process([item])
    if result.error:
        raise ProbeError(result.error)
    return list(result.findings)
