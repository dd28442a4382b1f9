"""Open-set identification: the best watchlist/person match, or "unknown" below the threshold.

CompreFace-style systems return the nearest subject even for strangers; here a
query is only labelled when its cosine similarity reaches the calibrated
``match_threshold`` (plugin settings), and the score is always returned so it
can be shown next to the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Match:
    """``identity`` is the gallery id, or ``None`` for "unknown"; ``score`` is the best cosine similarity."""

    identity: Any
    score: float
    runner_up: float

    @property
    def label(self) -> str:
        return UNKNOWN if self.identity is None else str(self.identity)


def identify(
    query: NDArray[np.floating],
    gallery: NDArray[np.floating],
    identities: Sequence[Any],
    threshold: float,
) -> Match:
    """Best gallery identity for one query vector (several gallery rows may share an identity)."""
    if len(gallery) == 0:
        return Match(None, float("-inf"), float("-inf"))
    q = np.asarray(query, dtype=np.float32)
    g = np.asarray(gallery, dtype=np.float32)
    sims = (g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)) @ (q / max(np.linalg.norm(q), 1e-12))
    best_per_id: dict[Any, float] = {}
    for ident, sim in zip(identities, sims.tolist(), strict=True):
        best_per_id[ident] = max(sim, best_per_id.get(ident, float("-inf")))
    ranked = sorted(best_per_id.items(), key=lambda kv: -kv[1])
    ident, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else float("-inf")
    return Match(ident if score >= threshold else None, float(score), float(runner_up))
