"""Fixed-length index code of a minutiae template, for candidate retrieval with a cosine top-k (pgvector).

Why: 1:N must not compare the probe with every enrolled print. The code is a soft histogram of
minutia-pair geometry that is invariant to rotation and translation (the print is already at 500 dpi):
for every ordered pair of minutiae ``i -> j`` between ``D_MIN`` and ``D_MAX`` apart we bin the distance
and the two minutia directions measured from the line ``i -> j`` (8 x 15 x 15 bins, linear interpolation).
Two impressions of one finger share the pairs of their common area, so their histograms correlate.
The histogram (divided by the minutiae count) is raised to the power 0.7, centred, stripped of its
``N_PC`` leading principal components (finger-independent variation: minutiae density, pattern class),
and its ``N_WITHIN`` leading within-finger directions (how impressions of one finger differ: partial
contact, missed minutiae) are shrunk (regularised within-class whitening, WCCN); then L2-normalised.
All statistics are fitted on synthetic prints by ``python -m plugins.fingerprint.fit_index``.
Candidates found this way are re-ranked with the MCC matcher.

Partial probes: a small partial impression shares only part of an enrolled print's pairs, and the pairs of
the rest dilute the cosine. So an enrolled print also gets ``window_codes``: the same code of the minutiae
inside a few contact-sized ellipses (``WINDOW_AXES`` around the minutiae centroid and ``WINDOW_OFFSETS`` from
it), stored as a second space (``fp_window``); a candidate's similarity is the best of its full code and its
windows (docs/benchmarks/fingerprint.md: candidate recall@100 at 100,000 prints 94.8 -> 97.4 %).

Public surface: ``DIM``, ``index_code``, ``window_templates``, ``window_codes``, ``raw_histogram``,
``IndexStats``, ``load_stats``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

D_MIN, D_MAX = 12.0, 100.0
N_D, N_B = 8, 15
DIM = N_D * N_B * N_B  # 1800 <= 2000 (pgvector HNSW limit)
POWER = 0.7
N_PC = 10
N_WITHIN = 50
WITHIN_SHRINK = 2.0
STATS_FILE = Path(__file__).with_name("index_stats.npz")
#: Window ellipse semi-axes (x, y) in 500-dpi pixels: about the contact area of a small partial impression.
WINDOW_AXES = (100.0, 85.0)
#: Window centres relative to the minutiae centroid (pixels).
WINDOW_OFFSETS = ((0.0, 0.0), (35.0, 0.0), (-35.0, 0.0), (0.0, 30.0), (0.0, -30.0))
#: Windows with fewer minutiae carry too few pairs to be worth a vector.
WINDOW_MIN_MINUTIAE = 8


@dataclass(frozen=True, slots=True)
class IndexStats:
    """Mean of the power-normalised histogram and the principal components removed from it."""

    mean: NDArray[np.float32]
    components: NDArray[np.float32]  # (N_PC, DIM), orthonormal rows
    within: NDArray[np.float32]  # (N_WITHIN, DIM): leading within-finger directions, orthonormal rows
    within_gain: NDArray[np.float32]  # (N_WITHIN,): sqrt(reg / (lambda + reg)) - 1 (shrinks them)


def raw_histogram(minutiae: NDArray[np.float32]) -> NDArray[np.float32]:
    """Soft (linearly interpolated) histogram of pair features, normalised by the number of minutiae."""
    m = np.asarray(minutiae, dtype=np.float64).reshape(-1, 5)
    n = m.shape[0]
    hist = np.zeros(DIM, dtype=np.float64)
    if n < 2:
        return hist.astype(np.float32)
    phi = -m[:, 2]  # image axes (y down)
    dx = m[None, :, 0] - m[:, None, 0]
    dy = m[None, :, 1] - m[:, None, 1]
    d = np.hypot(dx, dy)
    i, j = np.nonzero((d >= D_MIN) & (d < D_MAX))
    if i.size == 0:
        return hist.astype(np.float32)
    line = np.arctan2(dy[i, j], dx[i, j])
    b1 = np.mod(phi[i] - line, 2 * np.pi) / (2 * np.pi) * N_B
    b2 = np.mod(phi[j] - line, 2 * np.pi) / (2 * np.pi) * N_B
    dd = (d[i, j] - D_MIN) / (D_MAX - D_MIN) * N_D - 0.5
    # linear interpolation between bin centres: distance clamps at the ends, angles wrap around
    d0 = np.floor(dd)
    wd1 = dd - d0
    a0 = np.floor(b1 - 0.5)
    wa1 = b1 - 0.5 - a0
    c0 = np.floor(b2 - 0.5)
    wc1 = b2 - 0.5 - c0
    for di, wd in ((d0, 1 - wd1), (d0 + 1, wd1)):
        dk = np.clip(di, 0, N_D - 1).astype(np.int64)
        for ai, wa in ((a0, 1 - wa1), (a0 + 1, wa1)):
            ak = np.mod(ai, N_B).astype(np.int64)
            for ci, wc in ((c0, 1 - wc1), (c0 + 1, wc1)):
                ck = np.mod(ci, N_B).astype(np.int64)
                hist += np.bincount((dk * N_B + ak) * N_B + ck, weights=wd * wa * wc, minlength=DIM)
    return (hist / n).astype(np.float32)


def feature(minutiae: NDArray[np.float32]) -> NDArray[np.float32]:
    """Power-normalised histogram before centring (what ``fit_index`` fits its statistics on)."""
    return np.power(raw_histogram(minutiae), POWER, dtype=np.float32)


@lru_cache(maxsize=4)
def load_stats(path: Path = STATS_FILE) -> IndexStats | None:
    """Fitted statistics, or ``None`` before ``fit_index`` has been run (codes are then only power + L2)."""
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        return IndexStats(z["mean"].astype(np.float32), z["components"].astype(np.float32),
                          z["within"].astype(np.float32), z["within_gain"].astype(np.float32))


def index_code(minutiae: NDArray[np.float32], stats: IndexStats | None = None) -> NDArray[np.float32]:
    """L2-normalised float32 vector of length ``DIM`` (cosine space ``fp_index``)."""
    stats = stats if stats is not None else load_stats()
    v = feature(minutiae)
    if stats is not None:
        v = v - stats.mean
        v = v - (stats.components @ v) @ stats.components
        v = v + ((stats.within @ v) * stats.within_gain) @ stats.within
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)


def window_templates(minutiae: NDArray[np.float32]) -> list[NDArray[np.float32]]:
    """The minutiae inside each window ellipse (at most ``len(WINDOW_OFFSETS)``; sparse windows left out)."""
    m = np.asarray(minutiae, dtype=np.float32).reshape(-1, 5)
    if len(m) < WINDOW_MIN_MINUTIAE:
        return []
    xy = m[:, :2].astype(np.float64)
    centre = xy.mean(axis=0)
    ax, ay = WINDOW_AXES
    out = []
    for dx, dy in WINDOW_OFFSETS:
        r = ((xy[:, 0] - centre[0] - dx) / ax) ** 2 + ((xy[:, 1] - centre[1] - dy) / ay) ** 2
        inside = m[r <= 1.0]
        if len(inside) >= WINDOW_MIN_MINUTIAE:
            out.append(inside)
    return out


def window_codes(minutiae: NDArray[np.float32], stats: IndexStats | None = None) -> list[NDArray[np.float32]]:
    """``index_code`` of every window with usable pairs (space ``fp_window``), in ``WINDOW_OFFSETS`` order."""
    codes = (index_code(w, stats) for w in window_templates(minutiae))
    return [c for c in codes if np.isfinite(c).all() and float(np.linalg.norm(c)) > 0.0]
