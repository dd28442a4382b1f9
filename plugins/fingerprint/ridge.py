"""Ridge-pattern analysis shared by the pipeline and the generator (numpy/scipy only).

Public surface: ``ridge_period``, ``orientation_field``, ``foreground``, ``gabor_bank``, ``oriented_filter``,
``enhance``. Orientation angles are ridge directions in image axes (x right, y down), modulo pi.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

N_BINS = 16


@dataclass(frozen=True, slots=True)
class Spectrum:
    """Global radial power spectrum summary of an image (why: DPI check and fingerprint-ness)."""

    period: float  # dominant period in pixels
    band_ratio: float  # share of mid-band power within +-30% of the dominant frequency
    peakiness: float  # peak power over the median power of the searched band


def ridge_period(gray: NDArray[np.float64], min_period: float = 3.0, max_period: float = 48.0) -> Spectrum:
    """Dominant ridge period from the radially averaged, whitened power spectrum of the whole image.

    A fingerprint has one strong ring in its spectrum (the ridge frequency), whatever the local orientation,
    so this works at any resolution and needs no segmentation.
    """
    from scipy import fft, ndimage

    img = np.asarray(gray, dtype=np.float64)
    img = img - img.mean()  # frequencies below 1/max_period are outside the searched band anyway
    h, w = img.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(fft.rfft2(img * win)) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    rad = np.hypot(fx, fy)
    edges = np.geomspace(1.0 / max_period, 1.0 / min_period, 97)
    idx = np.digitize(rad.ravel(), edges) - 1
    ok = (idx >= 0) & (idx < len(edges) - 1)
    sums = np.bincount(idx[ok], weights=power.ravel()[ok], minlength=len(edges) - 1)
    counts = np.bincount(idx[ok], minlength=len(edges) - 1)
    centers = np.sqrt(edges[:-1] * edges[1:])
    prof = sums / np.maximum(counts, 1) * centers**2  # whiten the ~1/f^2 trend of natural images
    prof = ndimage.uniform_filter1d(prof, 3)
    k = int(np.argmax(prof))
    f0 = centers[k]
    band = (centers > f0 / 1.3) & (centers < f0 * 1.3)
    total = float(prof.sum()) or 1.0
    return Spectrum(
        period=float(1.0 / f0),
        band_ratio=float(prof[band].sum() / total),
        peakiness=float(prof[k] / (np.median(prof) + 1e-12)),
    )


def orientation_field(gray: NDArray[np.float64], sigma: float = 7.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Ridge orientation (mod pi) and coherence in [0, 1] per pixel (smoothed squared gradients)."""
    from scipy import ndimage

    g = ndimage.gaussian_filter(np.asarray(gray, dtype=np.float32), 1.0)
    gx = ndimage.sobel(g, axis=1)
    gy = ndimage.sobel(g, axis=0)
    gxx = _smooth(gx * gx, sigma)
    gyy = _smooth(gy * gy, sigma)
    gxy = _smooth(gx * gy, sigma)
    # gradient direction is across the ridges; ridge direction is perpendicular to it
    theta = 0.5 * np.arctan2(2 * gxy, gxx - gyy) + np.pi / 2
    coherence = np.hypot(gxx - gyy, 2 * gxy) / (gxx + gyy + 1e-9)
    return np.mod(theta, np.pi), coherence


def _smooth(a: NDArray[np.floating], sigma: float) -> NDArray[np.float64]:
    """Gaussian smoothing done at quarter resolution (large sigmas only; 10x cheaper, same result here)."""
    from PIL import Image
    from scipy import ndimage

    if sigma < 4:
        return ndimage.gaussian_filter(a.astype(np.float64), sigma)
    h, w = a.shape
    hp, wp = -(-h // 4) * 4, -(-w // 4) * 4
    pad = np.pad(a, ((0, hp - h), (0, wp - w)), mode="edge")
    small = pad.reshape(hp // 4, 4, wp // 4, 4).mean(axis=(1, 3), dtype=np.float64)
    small = ndimage.gaussian_filter(small, sigma / 4.0).astype(np.float32)
    big = Image.fromarray(small, mode="F").resize((wp, hp), Image.Resampling.BILINEAR)
    return np.asarray(big, dtype=np.float64)[:h, :w]


def foreground(
    gray: NDArray[np.float64], coherence: NDArray[np.float64], block: int = 16
) -> NDArray[np.bool_]:
    """Ridge area: blocks with enough contrast and orientation coherence, cleaned morphologically."""
    from scipy import ndimage

    h, w = gray.shape
    bh, bw = max(1, h // block), max(1, w // block)
    g = gray[: bh * block, : bw * block].reshape(bh, block, bw, block)
    c = coherence[: bh * block, : bw * block].reshape(bh, block, bw, block)
    std = g.std(axis=(1, 3))
    coh = c.mean(axis=(1, 3))
    ref = float(np.percentile(std, 95)) if std.size else 0.0
    blocks = (std > max(6.0, 0.25 * ref)) & (coh > 0.35)
    blocks = ndimage.binary_closing(blocks, iterations=2, border_value=0)
    blocks = ndimage.binary_opening(blocks, iterations=1)
    blocks = ndimage.binary_fill_holes(blocks)
    lab, n = ndimage.label(blocks)
    if n > 1:
        sizes = ndimage.sum(blocks, lab, range(1, n + 1))
        blocks = lab == (int(np.argmax(sizes)) + 1)
    mask = np.zeros((h, w), dtype=bool)
    mask[: bh * block, : bw * block] = np.repeat(np.repeat(blocks, block, 0), block, 1)
    return mask


@lru_cache(maxsize=16)
def gabor_bank(
    shape: tuple[int, int], period: float, radial_bw: float = 0.22, angular_bw: float = 0.17
) -> NDArray[np.float32]:
    """Frequency responses (N_BINS, H, W//2+1) of real Gabor filters, one per ridge-orientation bin (cached)."""
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f0 = 1.0 / period
    bank = np.empty((N_BINS, h, w // 2 + 1), dtype=np.float32)
    for k in range(N_BINS):
        normal = k * np.pi / N_BINS + np.pi / 2
        nx, ny = np.cos(normal), np.sin(normal)
        along = fx * nx + fy * ny
        across = -fx * ny + fy * nx
        bank[k] = np.exp(
            -((np.abs(along) - f0) ** 2) / (2 * (radial_bw * f0) ** 2) - across**2 / (2 * (angular_bw * f0) ** 2)
        )
    return bank


def oriented_filter(
    image: NDArray[np.float64], orientation: NDArray[np.float64], bank: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Space-variant Gabor filtering: each pixel takes its orientation's response (two bins interpolated)."""
    from scipy import fft

    h, w = image.shape
    shape = (bank.shape[1], 2 * (bank.shape[2] - 1))
    padded = np.zeros(shape, dtype=np.float32)
    padded[:h, :w] = image
    spec = fft.rfft2(padded)
    pos = orientation / (np.pi / N_BINS)
    k0 = np.floor(pos).astype(np.int64) % N_BINS
    frac = (pos - np.floor(pos)).astype(np.float32)
    resp = fft.irfft2(spec[None] * bank, s=shape, axes=(-2, -1))[:, :h, :w]
    r0 = np.take_along_axis(resp, k0[None], 0)[0]
    r1 = np.take_along_axis(resp, ((k0 + 1) % N_BINS)[None], 0)[0]
    return ((1 - frac) * r0 + frac * r1).astype(np.float64)


def fft_shape(shape: tuple[int, int]) -> tuple[int, int]:
    """A fast FFT size at least ``shape`` (+16 px margin against wrap-around), with an even width."""
    from scipy import fft

    h = fft.next_fast_len(shape[0] + 16, real=True)
    w = fft.next_fast_len(shape[1] + 16, real=True)
    return h, w + (w % 2)


def enhance(
    gray: NDArray[np.float64], orientation: NDArray[np.float64], mask: NDArray[np.bool_], period: float
) -> NDArray[np.uint8]:
    """Contextual Gabor enhancement (Hong-Wan-Jain style): dark ridges on white, background white."""
    g = np.asarray(gray, dtype=np.float64)
    mean = _smooth(g, 8.0)
    std = np.sqrt(np.maximum(_smooth((g - mean) ** 2, 8.0), 0)) + 1e-3
    norm = (g - mean) / std
    # ridges are dark: flip so ridges are positive, filter, then render dark again
    resp = oriented_filter(-norm, orientation, gabor_bank(fft_shape(g.shape), round(period * 4) / 4))
    scale = float(np.percentile(np.abs(resp[mask]), 90)) if mask.any() else 1.0
    out = 128.0 - 127.0 * np.clip(resp / (scale + 1e-9), -1, 1)
    soft = _smooth(mask.astype(np.float64), 4.0)
    out = out * soft + 255.0 * (1 - soft)
    return np.clip(out, 0, 255).astype(np.uint8)
