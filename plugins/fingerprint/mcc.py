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
#: Local similarities are float32 (their matmul's rounding depends on how many candidates are stacked): pairs
#: are ranked on values rounded to this many decimals, so equal ones are taken in the same order either way.
SIM_DECIMALS = 6
#: Candidates consolidated together by ``score_many`` (bounds its padded arrays).
CONSOLIDATE_CHUNK = 64
RHO = ((5.0, -8.0 / 5.0), (np.pi / 12, -30.0), (np.pi / 12, -30.0))

_DS = 2 * R / NS
_GRID = (np.arange(NS) - (NS - 1) / 2) * _DS
_GU, _GV = np.meshgrid(_GRID, _GRID, indexing="ij")
_IN_R = np.hypot(_GU, _GV) <= R  # spatial cells that can ever be valid
_CELL_U, _CELL_V = _GU[_IN_R], _GV[_IN_R]
N_CELLS = int(_IN_R.sum()) * ND


@dataclass(frozen=True, slots=True)
class Cylinders:
    """Cylinders of one template: ``values`` (n, N_CELLS) float32, laid out (direction bin, spatial cell) per
    minutia, and per-spatial-cell ``valid`` (n, cells) float32."""

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
_DIR_TABLE32T = np.ascontiguousarray(_DIR_TABLE.T, dtype=np.float32)  # (ND, steps)
_GRID32 = _GRID.astype(np.float32)
_INV_2S2 = 1.0 / (2 * SIGMA_S**2)
_GAUSS_NORM = 1.0 / (SIGMA_S * np.sqrt(2 * np.pi))


def _hull_inside(x: NDArray[np.float64], y: NDArray[np.float64], hull_pts: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Points (x, y) within OMEGA of the convex hull of ``hull_pts`` (all True when the hull is degenerate)."""
    hull = _convex_hull(hull_pts)
    if len(hull) < 3:
        return np.ones(x.shape, dtype=bool)
    edges = np.roll(hull, -1, axis=0) - hull  # counter-clockwise polygon
    length = np.hypot(edges[:, 0], edges[:, 1])
    keep = length > 1e-9
    nx, ny = edges[keep, 1] / length[keep], -edges[keep, 0] / length[keep]  # outward normals
    # signed distance outside an edge is p . n - h . n (h: the edge's start); one pass per edge, no 3-d temporary
    limit = OMEGA + hull[keep, 0] * nx + hull[keep, 1] * ny
    out = np.ones(x.shape, dtype=bool)
    for a, b, lim in zip(nx.astype(x.dtype), ny.astype(x.dtype), limit.tolist(), strict=True):
        out &= x * a + y * b <= lim
    return out


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
    u = (d[..., 0] * c[:, None] + d[..., 1] * s[:, None]).astype(np.float32)
    v = (-d[..., 0] * s[:, None] + d[..., 1] * c[:, None]).astype(np.float32)
    dist = np.hypot(d[..., 0], d[..., 1])
    near = (dist <= R + 3 * SIGMA_S) & ~np.eye(n, dtype=bool)
    # Only neighbours within R + 3 sigma contribute: gather each minutia's neighbours into the first `width`
    # columns (padding masked to 0), a third to a half of n on a full print: the sums below shrink with it.
    width = max(int(near.sum(1).max()), 1)
    nbr = np.argsort(~near, axis=1, kind="stable")[:, :width]  # (i, t): the t-th neighbour of i
    weight = np.take_along_axis(near, nbr, axis=1) * np.float32(_GAUSS_NORM)  # (i, t)
    u = np.take_along_axis(u, nbr, axis=1)
    v = np.take_along_axis(v, nbr, axis=1)
    # spatial contribution of neighbour t to cell (a, b) of i is g(u_a - u_it) * g(v_b - v_it): separable on the
    # grid. float32 and in place from here: a re-ranking builds hundreds of these per query.
    gu = _GRID32[None, :, None] - u[:, None, :]  # (i, a, t)
    gu *= gu
    gu *= np.float32(-_INV_2S2)
    np.exp(gu, out=gu)
    gu *= weight[:, None, :].astype(np.float32)
    gv = v[:, :, None] - _GRID32[None, None, :]  # (i, t, b)
    gv *= gv
    gv *= np.float32(-_INV_2S2)
    np.exp(gv, out=gv)
    # directional contribution: Gaussian mass of the direction difference in each of ND bins (tabulated)
    dtheta = np.mod(np.take_along_axis(phi[None, :] - phi[:, None], nbr, axis=1), 2 * np.pi)  # (i, t)
    steps = np.rint(dtheta * (_DIR_STEPS / (2 * np.pi))).astype(np.int64) % _DIR_STEPS
    directional = _DIR_TABLE32T[:, steps].transpose(1, 0, 2)  # (i, k, t)
    # (i, k, a, t) x (i, t, b) -> (i, k, a, b): every broadcast runs along the long axes, none along ND
    w = directional[:, :, None, :] * gu[:, None, :, :]
    raw = np.matmul(w.reshape(n, ND * NS, width), gv).reshape(n, ND, NS * NS)[:, :, _IN_R.ravel()]  # (i, k, cells)
    # the logistic Psi = 1 / (1 + exp(-tau (raw - mu))), in place (numpy's float32 exp is vectorised, its tanh
    # is not); raw >= 0, so the exponent is at most tau * mu = 4: no overflow
    raw -= np.float32(MU_PSI)
    raw *= np.float32(-TAU_PSI)
    np.exp(raw, out=raw)
    raw += np.float32(1.0)
    values = np.reciprocal(raw, out=raw)  # float32
    # cell validity: inside the (offset) convex hull of the template's minutiae
    cx = (xy[:, 0, None] + _CELL_U[None, :] * c[:, None] - _CELL_V[None, :] * s[:, None]).astype(np.float32)
    cy = (xy[:, 1, None] + _CELL_U[None, :] * s[:, None] + _CELL_V[None, :] * c[:, None]).astype(np.float32)
    inside = _hull_inside(cx, cy, xy)  # (i, cells)
    ok = (inside.sum(1) >= MIN_VC * n_sp) & (near.sum(1) >= MIN_M)
    valid = inside.astype(np.float32)
    values *= valid[:, None, :]
    return Cylinders(xy, phi, values.reshape(n, -1), valid, ok)


def _similarity(a: Cylinders, b: Cylinders) -> NDArray[np.float64]:
    """Local similarity matrix (a.n, b.n) between all cylinder pairs."""
    if a.n == 0 or b.n == 0:
        return np.zeros((a.n, b.n))
    cross = a.values @ b.values.T
    # validity is per spatial cell (the same for the ND direction bins), so the masked norms need only
    # the per-cell sums of squares
    sq_a = (a.values * a.values).reshape(a.n, ND, -1).sum(1)
    sq_b = (b.values * b.values).reshape(b.n, ND, -1).sum(1)
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
    return int(_n_pairs_many(na, np.asarray([nb]))[0])


def _consolidate(sim: NDArray[np.float64], a: Cylinders, b: Cylinders) -> float:
    """LSS-R: relax the best one-to-one pairs by geometric compatibility, average the most efficient."""
    return _consolidate_pairs(sim, a, b)[0]


_NO_PAIRS: tuple[float, list[tuple[int, int]]] = (0.0, [])


def _tie_safe(eff: NDArray[np.float64]) -> NDArray[np.float64]:
    """Efficiencies rounded to 1e-9 for sorting: pairs with no compatible partner all have eff = W_R ** N_REL up
    to summation-order noise (~1e-17), and which of those tied pairs counts must not depend on how the arithmetic
    was batched; ties are then broken by selection order (stable sort)."""
    return np.round(eff, 9)


def _consolidate_pairs(sim: NDArray[np.float64], a: Cylinders,
                       b: Cylinders) -> tuple[float, list[tuple[int, int]]]:
    """``_consolidate`` plus the minutia pairs (index in a, index in b) whose relaxed similarity made the score."""
    n_r = min(a.n, b.n)
    if n_r < 2:
        return _NO_PAIRS
    flat = np.argsort(-np.round(sim, SIM_DECIMALS), axis=None, kind="stable")  # ties: row-major order
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
    best = np.argsort(-_tie_safe(eff), kind="stable")[:n_p]
    return float(lam[best].mean()), [(int(ia[k]), int(ib[k])) for k in best.tolist()]


def score(a: Cylinders, b: Cylinders) -> float:
    """MCC LSS-R similarity in [0, 1] of two templates' cylinders (symmetric up to pair selection ties)."""
    return _consolidate(_similarity(a, b), a, b)


def score_pairs(a: Cylinders, b: Cylinders) -> tuple[float, list[tuple[int, int]]]:
    """``score`` and the matched minutia pairs behind it (indices into a's and b's minutiae), for display."""
    return _consolidate_pairs(_similarity(a, b), a, b)


def _n_pairs_many(na: int, nb: NDArray[np.int64]) -> NDArray[np.int64]:
    """``_n_pairs(na, b)`` for every b in ``nb``."""
    z = 1.0 / (1.0 + np.exp(-TAU_P * (np.minimum(na, nb) - MU_P)))
    return MIN_NP + np.round(z * (MAX_NP - MIN_NP)).astype(np.int64)


def _consolidate_many(sim: NDArray[np.float64], a: Cylinders, gallery: list[Cylinders]) -> NDArray[np.float64]:
    """``_consolidate`` of ``a`` against every template of ``gallery`` at once (``sim``: a.n x sum of their n).

    Why: re-ranking scores hundreds of candidates per query, and the per-candidate Python loop (greedy pair
    selection, then relaxation) cost more than the similarity matrices. Here the greedy selection walks all
    candidates' sorted entries in lock step and the relaxation runs on padded (candidates, pairs, pairs) arrays;
    the result equals ``_consolidate`` candidate by candidate (up to float rounding: equal similarities and
    efficiencies are ordered the same way in both, see ``SIM_DECIMALS`` and ``_tie_safe``).
    """
    g_n = np.asarray([g.n for g in gallery], dtype=np.int64)
    out = np.zeros(len(gallery))
    n_r = np.minimum(a.n, g_n)
    live = np.nonzero(n_r >= 2)[0]
    if a.n < 2 or live.size == 0:
        return out
    starts = np.concatenate([[0], np.cumsum(g_n)[:-1]])[live]
    g_n, n_r = g_n[live], n_r[live]
    n_g, width = live.size, int(g_n.max())
    in_block = np.arange(width)[None, :] < g_n[:, None]  # (G, width)
    cols = np.where(in_block, starts[:, None] + np.arange(width)[None, :], 0)
    block = np.where(in_block[:, None, :], sim[:, cols].transpose(1, 0, 2), 0.0)  # (G, a.n, width), padding 0
    flat = block.reshape(n_g, -1)
    limit = np.maximum(4 * n_r, 64)  # _consolidate_pairs looks at this many of the best entries
    depth = int(min(limit.max(), flat.shape[1]))
    order = np.argsort(-np.round(flat, SIM_DECIMALS), axis=1, kind="stable")[:, :depth]  # as _consolidate_pairs
    vals = np.take_along_axis(flat, order, axis=1)
    rows, cols_ = order // width, order % width
    used_r = np.zeros((n_g, a.n), dtype=bool)
    used_c = np.zeros((n_g, width), dtype=bool)
    count = np.zeros(n_g, dtype=np.int64)
    sel_r = np.zeros((n_g, int(n_r.max())), dtype=np.int64)
    sel_c = np.zeros_like(sel_r)
    gi = np.arange(n_g)
    for t in range(depth):  # greedy one-to-one pairs, all candidates in lock step
        r, c, v = rows[:, t], cols_[:, t], vals[:, t]
        open_ = (v > 0) & (count < n_r) & (t < limit)
        if not open_.any():
            break
        take = open_ & ~used_r[gi, r] & ~used_c[gi, c]
        g = gi[take]
        used_r[g, r[take]] = True
        used_c[g, c[take]] = True
        sel_r[g, count[g]] = r[take]
        sel_c[g, count[g]] = c[take]
        count[g] += 1
    k = int(count.max())
    if k < 2:
        return out
    ia, ib = sel_r[:, :k], sel_c[:, :k]
    pair = np.arange(k)[None, :] < count[:, None]  # (G, k)
    lam0 = np.where(pair, block[gi[:, None], ia, ib], 0.0)
    g_xy = np.zeros((n_g, width, 2))
    g_phi = np.zeros((n_g, width))
    for row, j in enumerate(live.tolist()):
        g_xy[row, : gallery[j].n] = gallery[j].xy
        g_phi[row, : gallery[j].n] = gallery[j].phi
    pa, pb = a.xy[ia], g_xy[gi[:, None], ib]  # (G, k, 2)
    fa, fb = a.phi[ia], g_phi[gi[:, None], ib]
    da = np.hypot(pa[:, :, None, 0] - pa[:, None, :, 0], pa[:, :, None, 1] - pa[:, None, :, 1])
    db = np.hypot(pb[:, :, None, 0] - pb[:, None, :, 0], pb[:, :, None, 1] - pb[:, None, :, 1])
    d1 = np.abs(da - db)
    d2 = np.abs(_dphi(_dphi(fa[:, :, None], fa[:, None, :]), _dphi(fb[:, :, None], fb[:, None, :])))
    ra = np.arctan2(pa[:, None, :, 1] - pa[:, :, None, 1], pa[:, None, :, 0] - pa[:, :, None, 0])
    rb = np.arctan2(pb[:, None, :, 1] - pb[:, :, None, 1], pb[:, None, :, 0] - pb[:, :, None, 0])
    d3 = np.abs(_dphi(_dphi(fa[:, :, None], ra), _dphi(fb[:, :, None], rb)))
    rho = np.ones_like(d1)
    for d, (mu, tau) in zip((d1, d2, d3), RHO, strict=True):
        rho = rho / (1.0 + np.exp(-tau * (d - mu)))
    rho *= pair[:, :, None] & pair[:, None, :]
    rho[:, np.arange(k), np.arange(k)] = 0.0
    lam = lam0.copy()
    others = np.maximum(count - 1, 1)[:, None]
    for _ in range(N_REL):
        lam = W_R * lam + (1 - W_R) * np.einsum("gij,gj->gi", rho, lam) / others
    eff = np.where(pair, lam / np.maximum(lam0, 1e-9), -np.inf)
    n_p = np.minimum(_n_pairs_many(a.n, g_n), count)
    best = np.argsort(-_tie_safe(eff), axis=1, kind="stable")
    top = np.arange(k)[None, :] < n_p[:, None]
    scores = (np.take_along_axis(lam, best, axis=1) * top).sum(1) / np.maximum(n_p, 1)
    out[live] = np.where(count >= 2, scores, 0.0)
    return out


def score_many(probe: Cylinders, gallery: list[Cylinders]) -> NDArray[np.float64]:
    """``score(probe, g)`` for every ``g``, batched: candidates of similar size are scored together in chunks of
    ``CONSOLIDATE_CHUNK`` (one similarity matmul and one lock-step consolidation per chunk; sorting by size keeps
    the padding of the consolidation's (candidates, pairs, pairs) arrays small and bounds their memory)."""
    out = np.zeros(len(gallery))
    order = np.argsort(np.asarray([g.n for g in gallery], dtype=np.int64), kind="stable")
    for start in range(0, len(order), CONSOLIDATE_CHUNK):
        idx = order[start : start + CONSOLIDATE_CHUNK]
        chunk = [gallery[i] for i in idx.tolist()]
        stacked = Cylinders(
            np.concatenate([g.xy for g in chunk]),
            np.concatenate([g.phi for g in chunk]),
            np.concatenate([g.values for g in chunk]),
            np.concatenate([g.valid for g in chunk]),
            np.concatenate([g.ok for g in chunk]),
        )
        out[idx] = _consolidate_many(_similarity(probe, stacked), probe, chunk)
    return out
