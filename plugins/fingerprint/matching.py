"""Pure matching functions for 1:1 verification and 1:N re-ranking (numpy only: no native code, no torch).

The platform uses them as: pgvector cosine top-k on the ``fp_index`` space (candidates) -> ``match_many``
(MCC LSS-R scores) -> candidates ordered by ``rank_score`` (the MCC score plus a little of the index-code
cosine) -> the best one's MCC score against ``IDENTIFY_THRESHOLD``; below it the answer is an explicit
"no match". 1:1 verification compares ``match`` with ``MATCH_THRESHOLD``. ``calibrated_score`` turns a score
into a probability-like value for display.

Calibration (``calibrated_score``): a logistic fit of P(same finger | score) with equal priors on the
synthetic FVC-protocol set of ``bench/fingerprint.py`` (100 fingers x 8 impressions, 2,800 genuine and
4,950 impostor scores; the benchmark prints the refit every run). Operating points measured there:

* 1:1 verification, ``MATCH_THRESHOLD`` = 0.08: none of the 4,950 impostor scores reached it (the highest
  was 0.073; FMR = 0.1 % is at 0.064 with FNMR 3.2 %), FNMR 4.5 %.
* 1:N identification, ``IDENTIFY_THRESHOLD`` = 0.12 on the MCC score of the first candidate (higher, because
  the re-ranked candidates are the 500 most similar of the whole gallery): 3 of 100 non-mated searches against
  100,000 enrolled fingers returned a match (FPIR 3 %; 0.10 gave 11 %, 0.15 none) while 93.4 % of mated
  searches were identified (97.6 % rank-1 without threshold). 1:1 FNMR at 0.12 is 10 %.

No real-print calibration set exists offline: recalibrate on real data before casework use.

Public surface: ``match``, ``match_pairs``, ``match_many``, ``rank_score``, ``calibrated_score``,
``MATCH_THRESHOLD``, ``IDENTIFY_THRESHOLD``, ``CODE_SIMILARITY_WEIGHT``, ``TemplateLike``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plugins.fingerprint import mcc
from plugins.fingerprint.template import Template, as_template

TemplateLike = Template | Mapping[str, Any] | bytes | str | NDArray[np.float32]

#: Logistic calibration ``p = 1 / (1 + exp(-(A * score + B)))`` (refit printed by every bench/fingerprint.py run).
CAL_A = 139.0
CAL_B = -7.89
#: 1:1 verification: scores at or above this are the same finger (see the module docstring).
MATCH_THRESHOLD = 0.08
#: 1:N identification: the best re-ranked candidate is reported only at or above this, else "no match".
IDENTIFY_THRESHOLD = 0.12
#: Weight of the index-code cosine in ``rank_score``. Chosen on a validation set kept apart from the benchmark's
#: (100 synthetic fingers x 8 impressions, seeds 6,000,000+, 699 probes against the benchmark's 100,000-print
#: distractor gallery): rank-1 over the top 100 / 500 / 1,000 candidates 96.42 / 96.28 / 96.42 % by the MCC score
#: alone, 96.71 / 97.14 / 97.42 % with weight 0.2 (0.1: 96.57 / 96.57 / 96.71; 0.3: 96.42 / 96.85 / 97.14;
#: 0.5: 96.57 / 97.14 / 97.42; 0.8: 96.57 / 97.00 / 97.00).
CODE_SIMILARITY_WEIGHT = 0.2


@lru_cache(maxsize=256)  # ~0.4 MB per print
def _cylinders_cached(key: bytes, n: int) -> mcc.Cylinders:
    return mcc.cylinders(np.frombuffer(key, dtype=np.float32).reshape(n, 5))


def cylinders_of(t: TemplateLike) -> mcc.Cylinders:
    """MCC cylinders of a template (memoised on the minutiae bytes: re-ranking sees the same prints often)."""
    m = np.ascontiguousarray(as_template(t).minutiae, dtype=np.float32)
    return _cylinders_cached(m.tobytes(), int(m.shape[0]))


def match(template_a: TemplateLike, template_b: TemplateLike) -> float:
    """Similarity in [0, 1] of two prints (templates, finding ``data`` dicts, or ISO 19794-2 records)."""
    return mcc.score(cylinders_of(template_a), cylinders_of(template_b))


def match_pairs(template_a: TemplateLike, template_b: TemplateLike) -> tuple[float, list[tuple[int, int]]]:
    """``match`` plus the matched minutia pairs (row in a's minutiae, row in b's) that made the score."""
    return mcc.score_pairs(cylinders_of(template_a), cylinders_of(template_b))


def match_many(probe: TemplateLike, candidates: Sequence[TemplateLike]) -> NDArray[np.float64]:
    """``match(probe, c)`` for every candidate, batched (about 1-2 ms per candidate on one core)."""
    return mcc.score_many(cylinders_of(probe), [cylinders_of(c) for c in candidates])


def rank_score(score: float | NDArray[np.float64], similarity: float | NDArray[np.float64] | None
               ) -> float | NDArray[np.float64]:
    """Order of re-ranked 1:N candidates: MCC score + ``CODE_SIMILARITY_WEIGHT`` x index-code cosine.

    Why: the code and the matcher look at different evidence (global pair geometry vs local minutia
    neighbourhoods). Ranked by the MCC score alone, a deeper candidate list mostly adds impostors that can
    outscore the mate by a hair (rank-1 fell when 200 instead of 100 candidates were re-ranked at 100,000
    prints); with the code's vote a candidate far down the list needs a clearly better match to win.
    A missing similarity (a print compared without the candidate stage) counts as 0.
    """
    sim = 0.0 if similarity is None else np.asarray(similarity, dtype=np.float64)
    out = np.asarray(score, dtype=np.float64) + CODE_SIMILARITY_WEIGHT * sim
    return float(out) if np.ndim(out) == 0 else out


def calibrated_score(score: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
    """Probability-like value in (0, 1): P(same finger | score) at equal priors (synthetic calibration)."""
    p = 1.0 / (1.0 + np.exp(-(CAL_A * np.asarray(score, dtype=np.float64) + CAL_B)))
    return float(p) if np.ndim(p) == 0 else p
