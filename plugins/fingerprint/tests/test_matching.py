"""MCC matcher and index code on controlled minutiae sets (pure numpy, no native code)."""

from __future__ import annotations

import numpy as np

from plugins.fingerprint import index, matching
from plugins.fingerprint.template import Template


def _finger(seed: int, n: int = 40) -> np.ndarray:
    """Minutiae spread over a 300 x 360 print with a smooth flow (directions follow a loop-like field)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform((20, 20), (280, 340), size=(n, 2))
    flow = np.arctan2(pts[:, 1] - 150 + rng.normal(0, 40), pts[:, 0] - 150 + rng.normal(0, 40)) / 2
    theta = np.mod(flow + np.pi * rng.integers(0, 2, n) + rng.normal(0, 0.1, n), 2 * np.pi)
    return np.column_stack([pts, theta, rng.integers(0, 2, n), rng.uniform(0.3, 1, n)]).astype(np.float32)


def _move(m: np.ndarray, angle_deg: float, shift: tuple[float, float], seed: int, drop: float = 0.0) -> np.ndarray:
    """Rotate (as seen on screen) + translate + jitter + drop minutiae: another impression of the same finger."""
    rng = np.random.default_rng(seed)
    a = np.radians(angle_deg)
    c, s = np.cos(a), np.sin(a)
    x, y = m[:, 0] - 150, m[:, 1] - 180
    out = m.copy()
    out[:, 0] = c * x + s * y + 150 + shift[0] + rng.normal(0, 1.5, len(m))
    out[:, 1] = -s * x + c * y + 180 + shift[1] + rng.normal(0, 1.5, len(m))
    out[:, 2] = np.mod(m[:, 2] + a + rng.normal(0, 0.08, len(m)), 2 * np.pi)
    return out[rng.random(len(m)) >= drop]


def test_it_matches_a_rotated_shifted_partial_copy_and_not_another_finger() -> None:
    a = _finger(1)
    genuine = matching.match(Template(a, 300, 360), Template(_move(a, 25, (30, -20), 2, drop=0.25), 300, 360))
    impostors = [matching.match(Template(a, 300, 360), Template(_finger(s), 300, 360)) for s in range(2, 8)]
    assert genuine > matching.MATCH_THRESHOLD > max(impostors)
    assert genuine > 3 * max(impostors)


def test_match_many_equals_pairwise_match() -> None:
    probe = Template(_finger(1), 300, 360)
    cands = [Template(_move(_finger(1), 10, (5, 5), 3), 300, 360)] + [Template(_finger(s), 300, 360) for s in (4, 5)]
    batched = matching.match_many(probe, cands)
    single = [matching.match(probe, c) for c in cands]
    assert np.allclose(batched, single)
    assert int(np.argmax(batched)) == 0


def test_calibrated_score_is_monotone_probability() -> None:
    s = np.linspace(0, 1, 50)
    p = matching.calibrated_score(s)
    assert np.all(np.diff(p) >= 0) and 0 <= p.min() and p.max() <= 1 and p[0] < 0.5 < p[-1]
    assert isinstance(matching.calibrated_score(0.2), float)


def test_degenerate_templates_score_zero() -> None:
    empty = Template(np.zeros((0, 5), np.float32), 300, 360)
    one = Template(_finger(1, 1), 300, 360)
    assert matching.match(empty, Template(_finger(1), 300, 360)) == 0.0
    assert matching.match(one, one) == 0.0


def test_index_code_is_rotation_translation_invariant_and_unit_norm() -> None:
    a = _finger(9, 45)
    code = index.index_code(a)
    moved = index.index_code(_move(a, 90, (40, 10), 4) * np.array([1, 1, 1, 1, 1], np.float32))
    other = index.index_code(_finger(10, 45))
    assert code.shape == (index.DIM,) and code.dtype == np.float32
    assert abs(float(np.linalg.norm(code)) - 1) < 1e-5
    assert float(code @ moved) > float(code @ other) + 0.15


def test_match_pairs_gives_the_score_and_valid_minutia_pairs() -> None:
    a = _finger(3)
    b = _move(a, -15, (10, 5), 4, drop=0.1)
    score, pairs = matching.match_pairs(Template(a, 300, 360), Template(b, 300, 360))
    assert abs(score - matching.match(Template(a, 300, 360), Template(b, 300, 360))) < 1e-9
    assert 4 <= len(pairs) <= 12
    assert all(0 <= i < len(a) and 0 <= j < len(b) for i, j in pairs)
    assert len({i for i, _ in pairs}) == len(pairs) == len({j for _, j in pairs})  # one-to-one
    assert matching.match_pairs(Template(a[:1], 300, 360), Template(b, 300, 360)) == (0.0, [])


def test_rank_score_lets_the_code_decide_near_ties_but_not_clear_wins() -> None:
    from plugins.fingerprint import matching

    w = matching.CODE_SIMILARITY_WEIGHT
    assert 0 < w < 1
    # near tie on MCC: the candidate whose index code is much closer ranks first
    assert matching.rank_score(0.150, 0.30) > matching.rank_score(0.155, 0.05)
    # a clear MCC win is not overturned by any code similarity (cosines are at most 1)
    assert matching.rank_score(0.40, -0.2) > matching.rank_score(0.15, 1.0)
    np.testing.assert_allclose(matching.rank_score(np.array([0.1, 0.2]), np.array([0.5, 0.0])), [0.1 + 0.5 * w, 0.2])
    assert matching.rank_score(0.3, None) == 0.3
