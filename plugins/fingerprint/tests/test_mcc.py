"""MCC internals against direct formulations: the vectorised cylinders, the hull test and the batched
consolidation must give what the plain definitions give (they exist only to make re-ranking faster)."""

from __future__ import annotations

import numpy as np

from plugins.fingerprint import mcc
from plugins.fingerprint.tests.test_matching import _finger, _move


def _reference_values(minutiae: np.ndarray) -> np.ndarray:
    """Cell values by the textbook sum over neighbours, in float64 with one einsum (no separable matmul,
    no in-place float32 arithmetic): Psi(sum_j G_s(u_a - u_ij) G_s(v_b - v_ij) G_d(k, dtheta_ij))."""
    m = np.asarray(minutiae, np.float64)
    n = len(m)
    xy, phi = m[:, :2], -m[:, 2]
    c, s = np.cos(phi), np.sin(phi)
    d = xy[None, :, :] - xy[:, None, :]
    u = d[..., 0] * c[:, None] + d[..., 1] * s[:, None]
    v = -d[..., 0] * s[:, None] + d[..., 1] * c[:, None]
    near = (np.hypot(d[..., 0], d[..., 1]) <= mcc.R + 3 * mcc.SIGMA_S) & ~np.eye(n, dtype=bool)
    g = 1.0 / (mcc.SIGMA_S * np.sqrt(2 * np.pi))
    gu = g * np.exp(-((mcc._GRID[None, :, None] - u[:, None, :]) ** 2) / (2 * mcc.SIGMA_S**2)) * near[:, None, :]
    gv = np.exp(-((mcc._GRID[None, :, None] - v[:, None, :]) ** 2) / (2 * mcc.SIGMA_S**2))
    dtheta = np.mod(phi[None, :] - phi[:, None], 2 * np.pi)
    steps = np.rint(dtheta * (mcc._DIR_STEPS / (2 * np.pi))).astype(np.int64) % mcc._DIR_STEPS
    raw = np.einsum("iaj,ibj,ijk->iabk", gu, gv, mcc._DIR_TABLE[steps])[:, mcc._IN_R, :]
    return 1.0 / (1.0 + np.exp(-mcc.TAU_PSI * (raw - mcc.MU_PSI)))


def test_cylinder_values_equal_the_direct_sum() -> None:
    for seed, n in ((1, 40), (2, 12), (3, 3)):
        minutiae = _finger(seed, n)
        cyl = mcc.cylinders(minutiae)
        expected = _reference_values(minutiae) * cyl.valid[:, :, None]  # (i, cell, k)
        assert cyl.values.dtype == np.float32 and cyl.values.shape == (n, mcc.N_CELLS)
        np.testing.assert_allclose(cyl.values, expected.transpose(0, 2, 1).reshape(n, -1), atol=1e-5)


def test_hull_test_keeps_cells_within_omega_of_the_hull() -> None:
    square = np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]])
    x = np.array([[50.0, 100 + mcc.OMEGA - 1, 100 + mcc.OMEGA + 1, -mcc.OMEGA + 1, 140.0, 50.0]])
    y = np.array([[50.0, 50.0, 50.0, 50.0, 140.0, -mcc.OMEGA - 1]])
    # the offset region is mitred: a corner point 40 px outside both edges is kept (edge distances 40 <= 50)
    assert mcc._hull_inside(x, y, square).tolist() == [[True, True, False, True, True, False]]
    # fewer than 3 distinct points: no hull, every cell counts as inside
    assert mcc._hull_inside(x, y, square[:2]).all()


def _gallery() -> list[np.ndarray]:
    """Candidates of every kind a re-ranking meets: the mate, partial mates, impostors of different sizes, and
    degenerate templates (0, 1, 2 minutiae) that must score 0 without disturbing the others."""
    probe = _finger(1)
    return ([_move(probe, 10, (5, 5), 3), _move(probe, -20, (-30, 10), 4, drop=0.5)]
            + [_finger(s, n) for s, n in ((4, 40), (5, 18), (6, 55), (7, 9), (8, 30))]
            + [_finger(9, 2), _finger(10, 1), np.zeros((0, 5), np.float32), _finger(11, 25)])


def test_batched_scores_equal_one_by_one_scores_in_any_order() -> None:
    probe = mcc.cylinders(_finger(1))
    gallery = [mcc.cylinders(m) for m in _gallery()]
    single = np.array([mcc.score(probe, g) for g in gallery])
    np.testing.assert_allclose(mcc.score_many(probe, gallery), single, atol=1e-5)
    order = np.random.default_rng(0).permutation(len(gallery))
    np.testing.assert_allclose(mcc.score_many(probe, [gallery[i] for i in order]), single[order], atol=1e-5)
    assert single[0] > single[1] > max(single[2:]) and single[-4:-1].tolist() == [0.0, 0.0, 0.0]
    assert mcc.score_many(mcc.cylinders(_finger(1, 1)), gallery).tolist() == [0.0] * len(gallery)
    assert mcc.score_many(probe, []).shape == (0,)


def _tied(noise: float) -> np.ndarray:
    """Local similarities where minutia 0 of the probe and 0 of the candidate each have two equally good partners;
    ``noise`` plays the float32 rounding that a larger stacked matmul adds to two of them."""
    sim = np.zeros((6, 6))
    sim[0, 0] = sim[0, 1] = sim[1, 0] = 0.5
    sim[2, 2], sim[3, 3], sim[4, 4], sim[5, 5] = 0.3, 0.3, 0.3, 0.3
    sim[0, 1] += 3 * noise
    sim[1, 0] += 2 * noise
    return sim


def test_rounding_noise_between_equal_similarities_does_not_change_the_pairs(monkeypatch) -> None:
    """Seen on the synthetic set: the same probe/candidate scored alone and inside a batch took different pairs
    (1.8e-3 apart) because two equal similarities came out of the float32 matmul in a different order."""
    a, b = mcc.cylinders(_finger(3, 6)), mcc.cylinders(_finger(4, 6))
    clean, noisy = _tied(0.0), _tied(1e-8)

    def scores() -> list[float]:
        return [mcc._consolidate(clean, a, b), mcc._consolidate(noisy, a, b),
                float(mcc._consolidate_many(clean, a, [b])[0]), float(mcc._consolidate_many(noisy, a, [b])[0])]

    same = scores()
    assert max(same) - min(same) < 1e-6 and same[0] > 0
    monkeypatch.setattr(mcc, "SIM_DECIMALS", 15)  # no rounding: the noise decides, and the pairs change
    raw = scores()
    assert abs(raw[1] - raw[0]) > 1e-5 and abs(raw[3] - raw[2]) > 1e-5
