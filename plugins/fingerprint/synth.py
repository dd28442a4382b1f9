"""Synthetic fingerprints (SFINGE-style): master ridge patterns and impressions of them.

Why here: the only real prints available offline are three images (two fingers), far too few for FVC-style
error rates or 1:N scale tests, so tests and the benchmark build fingers on demand from seeds.

Model (after Cappelli, Maio, Maltoni, "Synthetic fingerprint-database generation", ICPR 2002):

1. Orientation field from singular points (Sherlock-Monro zero-pole model; an explicit arch model for
   arches) plus a smooth random perturbation; pattern classes drawn with their population frequencies.
2. Ridge growth: band-passed noise iteratively filtered with a space-variant Gabor bank (orientation bins
   interpolated, FFT domain) and clipped, which yields a binary-like ridge map whose minutiae are wherever
   the flow forces ridges to end or split - different for every seed.
3. Impressions: rigid motion (rotation, translation), Cappelli's plastic distortion (rigid inner contact
   region, affinely moved outer region, smooth transition), partial contact area, pressure (ridge
   thickness), dryness blotches, blur, background and sensor noise.

Public surface: ``make_master``, ``render_impression``, ``finger_images``, ``ImpressionParams``,
``MasterFinger``. Deterministic: the same seeds always give the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from plugins.fingerprint import ridge

#: Master canvas (rows, cols) at 500 dpi: about 21 x 18 mm, a fingertip.
MASTER_SHAPE = (432, 360)
#: Sensor frame of an impression (rows, cols) at 500 dpi.
FRAME_SHAPE = (360, 304)
_PATTERNS = ("arch", "tented_arch", "left_loop", "right_loop", "whorl")
#: Approximate population frequencies of the Henry classes (SFINGE / NIST statistics).
_PATTERN_P = (0.037, 0.029, 0.338, 0.317, 0.279)


@dataclass(frozen=True, slots=True)
class MasterFinger:
    """A finger's ridge pattern at 500 dpi: ``ridges`` in [-1, 1] (1 = ridge), finger ``mask``."""

    ridges: NDArray[np.float32]
    mask: NDArray[np.bool_]
    orientation: NDArray[np.float32]
    period: float
    pattern: str


@dataclass(frozen=True, slots=True)
class ImpressionParams:
    """How one impression differs from the master (all drawn by ``ImpressionParams.draw``)."""

    rotation_deg: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    distortion_px: float = 0.0
    distortion_rot_deg: float = 0.0
    contact_center: tuple[float, float] = (0.0, 0.0)
    contact_axes: tuple[float, float] = (150.0, 125.0)
    pressure: float = 0.0
    dryness: float = 0.0
    noise: float = 8.0
    blur: float = 0.7
    dpi: float = 500.0

    @staticmethod
    def draw(rng: np.random.Generator, hard: bool = False) -> ImpressionParams:
        """Random acquisition conditions; ``hard`` widens them (partial, dry/wet, noisy, distorted)."""
        k = 1.6 if hard else 1.0
        return ImpressionParams(
            rotation_deg=float(rng.uniform(-20, 20) * k),
            shift=(float(rng.normal(0, 18 * k)), float(rng.normal(0, 15 * k))),
            distortion_px=float(abs(rng.normal(0, 6 * k))),
            distortion_rot_deg=float(rng.normal(0, 3 * k)),
            contact_center=(float(rng.normal(0, 20 * k)), float(rng.normal(0, 16 * k))),
            contact_axes=(
                float(rng.uniform(125, 175) / (0.375 * k + 0.625)),
                float(rng.uniform(105, 140) / (0.375 * k + 0.625)),
            ),
            pressure=float(np.clip(rng.normal(0, 0.22 * k), -0.6, 0.6)),
            dryness=float(np.clip(abs(rng.normal(0, 0.25 * k)), 0, 0.8)),
            noise=float(rng.uniform(4, 14 * k)),
            blur=float(rng.uniform(0.4, 1.1)),
        )


# --------------------------------------------------------------------------- orientation field


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: int) -> NDArray[np.float64]:
    """Zero-mean smooth random field (bicubic upsampling of a coarse grid), unit-ish amplitude."""
    from scipy import ndimage

    gh, gw = shape[0] // cell + 3, shape[1] // cell + 3
    coarse = rng.normal(0, 1, (gh, gw))
    fine = ndimage.zoom(coarse, cell, order=3)
    return fine[cell : cell + shape[0], cell : cell + shape[1]]


def _singular_points(pattern: str, rng: np.random.Generator, h: int, w: int) -> tuple[list[complex], list[complex]]:
    cx, cy = w / 2 + rng.normal(0, 14), h * 0.42 + rng.normal(0, 16)
    if pattern == "tented_arch":
        core = complex(cx, cy)
        return [core], [core + complex(rng.normal(0, 6), rng.uniform(45, 75))]
    if pattern in ("left_loop", "right_loop"):
        side = -1.0 if pattern == "left_loop" else 1.0
        core = complex(cx - side * rng.uniform(0, 25), cy)
        delta = core + complex(side * rng.uniform(70, 130), rng.uniform(90, 150))
        return [core], [delta]
    # whorl: two cores (a small spiral or a concentric centre) and two deltas low on either side
    tilt = rng.uniform(-0.6, 0.6)
    sep = rng.uniform(8, 40)
    c1 = complex(cx, cy) + sep / 2 * complex(np.cos(tilt), np.sin(tilt))
    c2 = complex(cx, cy) - sep / 2 * complex(np.cos(tilt), np.sin(tilt))
    d1 = complex(cx - rng.uniform(90, 130), cy + rng.uniform(90, 140))
    d2 = complex(cx + rng.uniform(90, 130), cy + rng.uniform(90, 140))
    return [c1, c2], [d1, d2]


def orientation_field(
    pattern: str, rng: np.random.Generator, shape: tuple[int, int] = MASTER_SHAPE, step: int = 1
) -> NDArray[np.float64]:
    """Ridge orientation (radians, modulo pi; image axes, y down) for a pattern class.

    ``step`` > 1 samples the same field on a coarser grid (every ``step`` pixels), for template-level synthesis.
    """
    h, w = shape
    yy, xx = np.mgrid[0 : h // step, 0 : w // step].astype(np.float64) * step + (step - 1) / 2
    if pattern == "arch":
        x0 = w / 2 + rng.normal(0, 15)
        s = rng.uniform(60, 95)
        amp = rng.uniform(0.9, 1.6) / (1 + np.exp((yy - h * rng.uniform(0.45, 0.6)) / 45.0))
        g_prime = -(xx - x0) / s**2 * np.exp(-((xx - x0) ** 2) / (2 * s**2)) * s
        theta = np.arctan(amp * g_prime * 1.6)
    else:
        cores, deltas = _singular_points(pattern, rng, h, w)
        z = xx + 1j * yy
        theta = np.zeros(xx.shape)
        for c in cores:
            theta += 0.5 * np.angle(z - c)
        for d in deltas:
            theta -= 0.5 * np.angle(z - d)
        theta += rng.normal(0, 0.05)
    theta = theta + 0.12 * _smooth_noise(rng, xx.shape, 64 // step)
    return np.mod(theta, np.pi)


# --------------------------------------------------------------------------- ridge growth


def _finger_mask(rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.bool_]:
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = w / 2, h * 0.52
    ax, ay = w * rng.uniform(0.43, 0.49), h * rng.uniform(0.48, 0.56)
    p = 2.4
    return (np.abs((xx - cx) / ax) ** p + np.abs((yy - cy) / ay) ** p) <= 1.0


def make_master(seed: int, iterations: int = 7) -> MasterFinger:
    """A reproducible finger (ridge map, mask, orientation) from ``seed``."""
    rng = np.random.default_rng([seed, 0xF1])
    pattern = str(rng.choice(_PATTERNS, p=_PATTERN_P))
    theta = orientation_field(pattern, rng)
    period = float(rng.uniform(8.4, 10.2))
    bank = ridge.gabor_bank(MASTER_SHAPE, period)  # periodic canvas: wrap-around is harmless here
    img = rng.normal(0, 1, MASTER_SHAPE)
    for _ in range(iterations):
        img = ridge.oriented_filter(img, theta, bank)
        img = np.clip(img / (img.std() + 1e-9) * 2.5, -1.0, 1.0)
    img = np.tanh(3.0 * ridge.oriented_filter(img, theta, bank) / (img.std() + 1e-9))
    return MasterFinger(
        ridges=img.astype(np.float32),
        mask=_finger_mask(rng, MASTER_SHAPE),
        orientation=theta.astype(np.float32),
        period=period,
        pattern=pattern,
    )


# --------------------------------------------------------------------------- impressions


def _smoothstep(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def render_impression(master: MasterFinger, params: ImpressionParams, seed: int) -> NDArray[np.uint8]:
    """One capture of ``master`` under ``params``: an 8-bit grey image, dark ridges on a light background."""
    from scipy import ndimage

    rng = np.random.default_rng([seed, 0x1B])
    scale = params.dpi / 500.0
    fh, fw = int(round(FRAME_SHAPE[0] * scale)), int(round(FRAME_SHAPE[1] * scale))
    mh, mw = MASTER_SHAPE
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float64)
    # frame pixel -> 500 dpi frame coordinates centred on the frame
    px = xx / scale - FRAME_SHAPE[1] / 2 - params.shift[0]
    py = yy / scale - FRAME_SHAPE[0] / 2 - params.shift[1]
    a = np.radians(params.rotation_deg)
    qx = np.cos(a) * px + np.sin(a) * py
    qy = -np.sin(a) * px + np.cos(a) * py
    # plastic distortion around the contact centre (master coordinates relative to the centre)
    ccx, ccy = params.contact_center
    dx, dy = qx - ccx, qy - ccy
    r = np.hypot(dx, dy)
    b = _smoothstep((r - 45.0) / 90.0)
    beta = np.radians(params.distortion_rot_deg)
    ang = rng.uniform(0, 2 * np.pi)
    tx, ty = params.distortion_px * np.cos(ang), params.distortion_px * np.sin(ang)
    ox = (np.cos(beta) - 1) * dx - np.sin(beta) * dy + tx
    oy = np.sin(beta) * dx + (np.cos(beta) - 1) * dy + ty
    sx = qx + b * ox + mw / 2
    sy = qy + b * oy + mh / 2
    coords = np.stack([sy, sx])
    ridges = ndimage.map_coordinates(master.ridges.astype(np.float64), coords, order=1, mode="constant", cval=-1.0)
    finger = ndimage.map_coordinates(master.mask.astype(np.float64), coords, order=1, mode="constant", cval=0.0)
    # contact area: ellipse around the contact centre, softened edge
    ex = (qx - ccx) / params.contact_axes[1]
    ey = (qy - ccy) / params.contact_axes[0]
    contact = 1.0 - _smoothstep((np.hypot(ex, ey) - 0.92) / 0.16)
    contact = contact * np.clip(finger, 0, 1)
    # pressure (ridge width) and dryness (broken ridges)
    ink = 1.0 / (1.0 + np.exp(-3.5 * (ridges + params.pressure)))
    if params.dryness > 0:
        blot = _smooth_noise(rng, (fh, fw), 6)
        ink = ink * np.clip(1.0 - params.dryness * np.clip(blot + 0.4, 0, None), 0, 1)
    ink = ink * contact
    background = rng.uniform(215, 250)
    contrast = rng.uniform(150, 210)
    img = background - contrast * ink
    img = ndimage.gaussian_filter(img, params.blur * scale)
    img = img + rng.normal(0, params.noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def finger_images(seed: int, n: int, hard_from: int | None = None, dpi: float = 500.0) -> list[NDArray[np.uint8]]:
    """``n`` impressions of finger ``seed`` (impressions from index ``hard_from`` on use harder conditions)."""
    master = make_master(seed)
    rng = np.random.default_rng([seed, 0x1A])
    out = []
    for i in range(n):
        params = ImpressionParams.draw(rng, hard=hard_from is not None and i >= hard_from)
        out.append(render_impression(master, replace(params, dpi=dpi), seed=seed * 1000 + i))
    return out
