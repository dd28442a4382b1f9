"""The window vectors of the 1:N index: which minutiae each window holds, and why partial probes need them."""

from __future__ import annotations

import numpy as np

from plugins.fingerprint import index


def _grid(step: float = 20.0, n: int = 13) -> np.ndarray:
    """Minutiae on a regular grid (x, y, theta, kind, quality), centred at (200, 200)."""
    xs, ys = np.meshgrid(np.arange(n) * step, np.arange(n) * step)
    xy = np.stack([xs.ravel(), ys.ravel()], axis=1) - (n - 1) * step / 2 + 200
    theta = np.linspace(0, 2 * np.pi, len(xy), endpoint=False)
    return np.column_stack([xy, theta, np.zeros(len(xy)), np.ones(len(xy))]).astype(np.float32)


def test_windows_are_the_minutiae_inside_ellipses_around_the_centroid() -> None:
    m = _grid()
    windows = index.window_templates(m)
    assert len(windows) == len(index.WINDOW_OFFSETS)
    ax, ay = index.WINDOW_AXES
    for w, (dx, dy) in zip(windows, index.WINDOW_OFFSETS, strict=True):
        inside = ((m[:, 0] - 200 - dx) / ax) ** 2 + ((m[:, 1] - 200 - dy) / ay) ** 2 <= 1
        assert len(w) == int(inside.sum()) < len(m)
        assert np.array_equal(w, m[inside])


def test_small_prints_and_sparse_windows_get_no_window() -> None:
    assert index.window_templates(_grid(n=2)) == []  # 4 minutiae: below WINDOW_MIN_MINUTIAE
    sparse = _grid(step=70.0, n=4)  # few minutiae fall inside any ellipse
    assert all(len(w) >= index.WINDOW_MIN_MINUTIAE for w in index.window_templates(sparse))
    assert index.window_codes(_grid(n=2)) == []


def test_a_partial_probe_resembles_its_window_more_than_the_whole_print() -> None:
    """The reason for windows: pairs outside the probe's contact area dilute the whole print's code."""
    rng = np.random.default_rng(3)
    m = _grid(step=16.0, n=17)
    m[:, :2] += rng.normal(0, 2.0, (len(m), 2))
    probe = index.window_templates(m)[0]  # the central contact area, as a partial impression would show it
    probe = probe[rng.permutation(len(probe))[: int(0.9 * len(probe))]]  # a few minutiae missed
    q = index.index_code(probe)
    whole = float(q @ index.index_code(m))
    best_window = max(float(q @ w) for w in index.window_codes(m))
    assert best_window > whole + 0.05
