"""Minutia Cylinder-Code (MCC) matcher with relaxation-based consolidation (LSS-R), vectorised in numpy.

After Cappelli, Ferrara, Maltoni, "Minutia Cylinder-Code: a new representation and matching technique for
fingerprint recognition", IEEE TPAMI 32(12), 2010 (default parameters for 500 dpi). Why our own: afis
1.2.7's MCC matcher is broken (genuine ~ impostor, see shared/docs/models.md section 2) and we need a
batched form to re-rank 1:N candidates quickly. Cylinder cells are computed with a separable Gaussian,
so one template costs a few milliseconds.

Public surface: ``Cylinders``, ``cylinders``, ``score``, ``score_pairs``, ``score_many``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

R = 70.0
NS = 16
ND = 6
SIGMA_S = 28.0 / 3.0
SIGMA_D = 2.0 * np.pi / 9.0
MU_PSI = 0.01
TAU_PSI = 400.0
OMEGA = 50.0
MIN_VC = 0.75
MIN_M = 2
MIN_ME = 0.60
DELTA_THETA = np.pi / 2
MIN_NP, MAX_NP, MU_P, TAU_P = 4, 12, 20.0, 0.4
N_REL, W_R = 5, 0.5
RHO = ((5.0, -8.0 / 5.0), (np.pi / 12, -30.0), (np.pi / 12, -30.0))

_DS = 2 * R / NS
_GRID = (np.arange(NS) - (NS - 1) / 2) * _DS
_GU, _GV = np.meshgrid(_GRID, _GRID, indexing="ij")
_IN_R = np.hypot(_GU, _GV) <= R  # spatial cells that can ever be valid
_CELL_U, _CELL_V = _GU[_IN_R], _GV[_IN_R]
N_CELLS = int(_IN_R.sum()) * ND


@dataclass(frozen=True, slots=True)
class Cylinders:
    """Cylinders of one template: ``values`` (n, N_CELLS) and per-spatial-cell ``valid`` (n, cells) float32."""

    xy: NDArray[np.float64]
    phi: NDArray[np.float64]  # minutia directions, image axes (y down)
    values: NDArray[np.float32]
    valid: NDArray[np.float32]
    ok: NDArray[np.bool_]

    @property
    def n(self) -> int:
        return int(self.phi.shape[0])


def _dphi(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Angle a - b wrapped to [-pi, pi)."""
    return np.mod(a - b + np.pi, 2 * np.pi) - np.pi


def _direction_table(steps: int) -> NDArray[np.float64]:
    """Gaussian mass (sigma SIGMA_D) of each direction bin for direction differences 2*pi*t/steps."""
    from math import erf, sqrt

    centers = -np.pi + (np.arange(ND) + 0.5) * (2 * np.pi / ND)
    table = np.empty((steps, ND))
    for t in range(steps):
        dtheta = 2 * np.pi * t / steps
        for k, c in enumerate(centers):
            alpha = (c - dtheta + np.pi) % (2 * np.pi) - np.pi
            half, scale = np.pi / ND, 1.0 / (SIGMA_D * sqrt(2))
            table[t, k] = 0.5 * (erf((alpha + half) * scale) - erf((alpha - half) * scale))
    return table


_DIR_STEPS = 1440  # quarter-degree steps
_DIR_TABLE = _direction_table(_DIR_STEPS)


def _hull_inside(points: NDArray[np.float64], hull_pts: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Points within OMEGA of the convex hull of ``hull_pts`` (all True when the hull is degenerate)."""
    hull = _convex_hull(hull_pts)
    if len(hull) < 3:
        return np.ones(points.shape[:-1], dtype=bool)
    edges = np.roll(hull, -1, axis=0) - hull  # counter-clockwise polygon
    length = np.hypot(edges[:, 0], edges[:, 1])
    keep = length > 1e-9
    normal = np.stack([edges[keep, 1], -edges[keep, 0]], 1) / length[keep, None]  # outward
    offset = -(hull[keep] * normal).sum(1)
    dist = points @ normal.T + offset  # signed distance outside each edge
    return np.all(dist <= OMEGA, axis=-1)


def _convex_hull(pts: NDArray[np.float64]) -> NDArray[np.float64]:
    """Andrew's monotone chain; counter-clockwise vertices (fewer than 3 when degenerate)."""
    p = sorted(set(map(tuple, np.asarray(pts, dtype=np.float64).tolist())))
    if len(p) < 3:
        return np.asarray(p, dtype=np.float64).reshape(-1, 2)

    def half(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        for qx, qy in points:
            while len(out) >= 2:
                (ax, ay), (bx, by) = out[-2], out[-1]
                if (bx - ax) * (qy - ay) - (by - ay) * (qx - ax) > 0:
                    break
                out.pop()
            out.append((qx, qy))
        return out

    lower, upper = half(p), half(p[::-1])
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


def cylinders(minutiae: NDArray[np.float32]) -> Cylinders:
    """MCC cylinders of a template's minutiae (x, y, theta CCW-as-seen, ...)."""
    m = np.asarray(minutiae, dtype=np.float64).reshape(-1, 5)
    n = m.shape[0]
    xy = m[:, :2]
    phi = -m[:, 2]  # image axes
    n_sp = _CELL_U.size
    if n == 0:
        z = np.zeros((0, N_CELLS), np.float32)
        return Cylinders(xy, phi, z, np.zeros((0, n_sp), np.float32), np.zeros(0, bool))
    c, s = np.cos(phi), np.sin(phi)
    d = xy[None, :, :] - xy[:, None, :]  # (i, j, 2): j relative to i
    u = d[..., 0] * c[:, None] + d[..., 1] * s[:, None]
    v = -d[..., 0] * s[:, None] + d[..., 1] * c[:, None]
    dist = np.hypot(d[..., 0], d[..., 1])
    near = (dist <= R + 3 * SIGMA_S) & ~np.eye(n, dtype=bool)
    # spatial contribution of j to cell (a, b) of i is g(u_a - u_ij) * g(v_b - v_ij): separable on the grid
    gu = np.exp(-((_GRID[None, :, None] - u[:, None, :]) ** 2) / (2 * SIGMA_S**2))  # (i, a, j)
    gv = np.exp(-((_GRID[None, :, None] - v[:, None, :]) ** 2) / (2 * SIGMA_S**2))  # (i, b, j)
    gu *= near[:, None, :] / (SIGMA_S * np.sqrt(2 * np.pi))
    # directional contribution: Gaussian mass of the direction difference in each of ND bins (tabulated)
    dtheta = np.mod(phi[None, :] - phi[:, None], 2 * np.pi)  # (i, j)
    directional = _DIR_TABLE[np.rint(dtheta * (_DIR_STEPS / (2 * np.pi))).astype(np.int64) % _DIR_STEPS]
    vd = gv[:, :, :, None] * directional[:, None, :, :]  # (i, b, j, k)
    raw = np.matmul(gu, vd.transpose(0, 2, 1, 3).reshape(n, n, NS * ND)).reshape(n, NS, NS, ND)  # (i, a, b, k)
    raw = raw[:, _IN_R, :]  # cells within R: (i, cells, k)
    values = 0.5 + 0.5 * np.tanh((0.5 * TAU_PSI) * (raw - MU_PSI).astype(np.float32))  # the logistic Psi
    # cell validity: inside the (offset) convex hull of the template's minutiae
    cx = xy[:, 0, None] + _CELL_U[None, :] * c[:, None] - _CELL_V[None, :] * s[:, None]
    cy = xy[:, 1, None] + _CELL_U[None, :] * s[:, None] + _CELL_V[None, :] * c[:, None]
    inside = _hull_inside(np.stack([cx, cy], -1), xy)  # (i, cells)
    ok = (inside.sum(1) >= MIN_VC * n_sp) & (near.sum(1) >= MIN_M)
    vals = (values * inside[:, :, None]).reshape(n, -1).astype(np.float32)
    return Cylinders(xy, phi, vals, inside.astype(np.float32), ok)


def _similarity(a: Cylinders, b: Cylinders) -> NDArray[np.float64]:
    """Local similarity matrix (a.n, b.n) between all cylinder pairs."""
    if a.n == 0 or b.n == 0:
        return np.zeros((a.n, b.n))
    cross = a.values @ b.values.T
    # validity is per spatial cell (the same for the ND direction bins), so the masked norms need only
    # the per-cell sums of squares
    sq_a = (a.values * a.values).reshape(a.n, -1, ND).sum(2)
    sq_b = (b.values * b.values).reshape(b.n, -1, ND).sum(2)
    na2 = sq_a @ b.valid.T  # ||a restricted to b's valid cells||^2
    nb2 = a.valid @ sq_b.T
    common = (a.valid @ b.valid.T) * ND
    na, nb = np.sqrt(np.maximum(na2, 0)), np.sqrt(np.maximum(nb2, 0))
    diff = np.sqrt(np.maximum(na2 + nb2 - 2 * cross, 0))
    denom = na + nb
    sim = np.where(denom > 0, 1.0 - diff / np.maximum(denom, 1e-9), 0.0)
    keep = (common >= MIN_ME * N_CELLS) & a.ok[:, None] & b.ok[None, :]
    keep &= np.abs(_dphi(a.phi[:, None], b.phi[None, :])) <= DELTA_THETA
    return np.where(keep, sim, 0.0)


def _n_pairs(na: int, nb: int) -> int:
    z = 1.0 / (1.0 + np.exp(-TAU_P * (min(na, nb) - MU_P)))
    return MIN_NP + int(round(z * (MAX_NP - MIN_NP)))


def _consolidate(sim: NDArray[np.float64], a: Cylinders, b: Cylinders) -> float:
    """LSS-R: relax the best one-to-one pairs by geometric compatibility, average the most efficient."""
    return _consolidate_pairs(sim, a, b)[0]


_NO_PAIRS: tuple[float, list[tuple[int, int]]] = (0.0, [])


def _consolidate_pairs(sim: NDArray[np.float64], a: Cylinders,
                       b: Cylinders) -> tuple[float, list[tuple[int, int]]]:
    """``_consolidate`` plus the minutia pairs (index in a, index in b) whose relaxed similarity made the score."""
    n_r = min(a.n, b.n)
    if n_r < 2:
        return _NO_PAIRS
    flat = np.argsort(sim, axis=None)[::-1]
    rows, cols = np.unravel_index(flat[: max(4 * n_r, 64)], sim.shape)
    used_r, used_c, pr, pc = set(), set(), [], []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        if sim[r, c] <= 0 or r in used_r or c in used_c:
            continue
        used_r.add(r)
        used_c.add(c)
        pr.append(r)
        pc.append(c)
        if len(pr) == n_r:
            break
    if len(pr) < 2:
        return _NO_PAIRS
    ia, ib = np.asarray(pr), np.asarray(pc)
    lam0 = sim[ia, ib]
    pa, pb = a.xy[ia], b.xy[ib]
    fa, fb = a.phi[ia], b.phi[ib]
    da = np.hypot(*(pa[:, None, :] - pa[None, :, :]).transpose(2, 0, 1))
    db = np.hypot(*(pb[:, None, :] - pb[None, :, :]).transpose(2, 0, 1))
    d1 = np.abs(da - db)
    d2 = np.abs(_dphi(_dphi(fa[:, None], fa[None, :]), _dphi(fb[:, None], fb[None, :])))
    ra = np.arctan2(pa[None, :, 1] - pa[:, None, 1], pa[None, :, 0] - pa[:, None, 0])
    rb = np.arctan2(pb[None, :, 1] - pb[:, None, 1], pb[None, :, 0] - pb[:, None, 0])
    d3 = np.abs(_dphi(_dphi(fa[:, None], ra), _dphi(fb[:, None], rb)))
    rho = np.ones_like(d1)
    for d, (mu, tau) in zip((d1, d2, d3), RHO, strict=True):
        rho = rho / (1.0 + np.exp(-tau * (d - mu)))
    np.fill_diagonal(rho, 0.0)
    lam = lam0.copy()
    n = len(lam)
    for _ in range(N_REL):
        lam = W_R * lam + (1 - W_R) * (rho @ lam) / (n - 1)
    eff = lam / np.maximum(lam0, 1e-9)
    n_p = min(_n_pairs(a.n, b.n), n)
    best = np.argsort(eff)[::-1][:n_p]
    return float(lam[best].mean()), [(int(ia[k]), int(ib[k])) for k in best.tolist()]


def score(a: Cylinders, b: Cylinders) -> float:
    """MCC LSS-R similarity in [0, 1] of two templates' cylinders (symmetric up to pair selection ties)."""
    return _consolidate(_similarity(a, b), a, b)


def score_pairs(a: Cylinders, b: Cylinders) -> tuple[float, list[tuple[int, int]]]:
    """``score`` and the matched minutia pairs behind it (indices into a's and b's minutiae), for display."""
    return _consolidate_pairs(_similarity(a, b), a, b)


def score_many(probe: Cylinders, gallery: list[Cylinders]) -> NDArray[np.float64]:
    """``score(probe, g)`` for every ``g``, with one batched similarity computation."""
    if not gallery:
        return np.zeros(0)
    stacked = Cylinders(
        np.concatenate([g.xy for g in gallery]),
        np.concatenate([g.phi for g in gallery]),
        np.concatenate([g.values for g in gallery]),
        np.concatenate([g.valid for g in gallery]),
        np.concatenate([g.ok for g in gallery]),
    )
    sim = _similarity(probe, stacked)
    out = np.zeros(len(gallery))
    start = 0
    for i, g in enumerate(gallery):
        out[i] = _consolidate(sim[:, start : start + g.n], probe, g)
        start += g.n
    return out
