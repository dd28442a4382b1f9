"""Pure matching functions for 1:1 verification and 1:N re-ranking (numpy only: no native code, no torch).

The platform uses them as: pgvector cosine top-k on the ``fp_index`` space (candidates) -> ``match_many``
(MCC LSS-R scores) -> best candidate -> ``IDENTIFY_THRESHOLD``; below it the answer is an explicit
"no match". 1:1 verification compares ``match`` with ``MATCH_THRESHOLD``. ``calibrated_score`` turns a score
into a probability-like value for display.

Calibration (``calibrated_score``): a logistic fit of P(same finger | score) with equal priors on the
synthetic FVC-protocol set of ``bench/fingerprint.py`` (100 fingers x 8 impressions, 2,800 genuine and
4,950 impostor scores; the benchmark prints the refit every run). Operating points measured there:

* 1:1 verification, ``MATCH_THRESHOLD`` = 0.08: none of the 4,950 impostor scores reached it (the highest
  was 0.073; FMR = 0.1 % is at 0.064 with FNMR 3.2 %), FNMR 4.5 %.
* 1:N identification, ``IDENTIFY_THRESHOLD`` = 0.12 (higher, because the re-ranked candidates are the 100
  most similar of the whole gallery): 2 of 100 non-mated searches against 100,000 enrolled fingers
  returned a match (FPIR 2 %; 0.10 gave 8 %, 0.15 none) while 93 % of mated searches were identified
  (97.1 % rank-1 without threshold; with the window codes of model version .3). 1:1 FNMR at 0.12 is 10 %.

No real-print calibration set exists offline: recalibrate on real data before casework use.

Public surface: ``match``, ``match_pairs``, ``match_many``, ``calibrated_score``, ``MATCH_THRESHOLD``,
``IDENTIFY_THRESHOLD``, ``TemplateLike``.
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


def calibrated_score(score: float | NDArray[np.float64]) -> float | NDArray[np.float64]:
    """Probability-like value in (0, 1): P(same finger | score) at equal priors (synthetic calibration)."""
    p = 1.0 / (1.0 + np.exp(-(CAL_A * np.asarray(score, dtype=np.float64) + CAL_B)))
    return float(p) if np.ndim(p) == 0 else p
