"""Decoding, resolution handling and the "is this a fingerprint at all?" gate.

Why resolution matters: minutiae matchers tolerate rotation and translation but not scale, and a DPI mismatch
is a known failure of SourceAFIS (sourceafis-java #15, #49, #57). Every print is therefore resampled to
500 dpi. The DPI comes from, in order: the user (setting ``dpi``), the file's metadata when it is plausible
for a scanner and agrees with the ridge spacing, else the ridge spacing itself (adult ridge period is about
9 px at 500 dpi).

Public surface: ``PrintImage``, ``Rejected``, ``load_print``, ``resolve_dpi``, ``to_500dpi``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from plugins.fingerprint import ridge

TARGET_DPI = 500.0
#: Expected ridge period at 500 dpi (pixels) and the range accepted as "consistent".
NOMINAL_PERIOD = 9.0
PERIOD_RANGE = (6.0, 13.5)
MIN_SIDE_PX = 32
#: Share of spectral power around the dominant frequency below which an image has no ridge pattern.
MIN_BAND_RATIO = 0.45
#: Resolutions the ridge spacing may imply when the file gives none (beyond: ask the user for the DPI).
AUTO_DPI_RANGE = (300.0, 1300.0)
MIN_SIDE_MM = 5.0
MAX_SIDE_MM = 64.0
#: Largest side decoded (bigger images are downsized while decoding; the DPI is scaled to match).
MAX_DECODE_SIDE = 4096


class Rejected(Exception):  # noqa: N818 - reads as 'raise Rejected(...)'
    """The input is not a usable fingerprint; the message is shown to the user as is."""


@dataclass(frozen=True, slots=True)
class PrintImage:
    """A grey print at 500 dpi (float64, dark ridges) and how its resolution was decided."""

    gray: NDArray[np.float64]
    dpi: float
    dpi_source: str  # "user" | "metadata" | "ridge_period"
    note: str = ""


def _metadata_dpi(path: Path) -> tuple[float | None, tuple[int, int]]:
    """DPI recorded in the file header (PNG pHYs, JFIF, TIFF) and the stored size; headers only."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            size = img.size
            dpi = img.info.get("dpi")
    except Exception:  # noqa: BLE001 - read_image reports undecodable files with a proper message
        return None, (0, 0)
    if isinstance(dpi, tuple | list) and dpi:
        try:
            val = float(dpi[0])
        except (TypeError, ValueError):
            return None, size
        return (val if val > 0 else None), size
    return None, size


def resolve_dpi(
    gray: NDArray[np.float64], meta_dpi: float | None, user_dpi: float | None, period: float | None = None
) -> tuple[float, str, str]:
    """Pick the resolution of ``gray``: user value, else plausible metadata, else the ridge period."""
    if user_dpi:
        return float(user_dpi), "user", ""
    period = period if period is not None else ridge.ridge_period(gray).period
    estimate = TARGET_DPI * period / NOMINAL_PERIOD
    if meta_dpi and 250.0 <= meta_dpi <= 4000.0:
        at500 = period * TARGET_DPI / meta_dpi
        if PERIOD_RANGE[0] <= at500 <= PERIOD_RANGE[1]:
            return float(meta_dpi), "metadata", ""
        if not AUTO_DPI_RANGE[0] <= estimate <= AUTO_DPI_RANGE[1]:
            raise Rejected(f"not a fingerprint: ridge spacing ({period:.1f} px) does not fit the file's "
                           f"{meta_dpi:.0f} dpi nor any usual scanner resolution; if it is a print, give its DPI")
        return estimate, "ridge_period", f"metadata said {meta_dpi:.0f} dpi but the ridge spacing disagrees"
    at500 = period  # no usable metadata: assume a 500 dpi scanner unless the ridges say otherwise
    if PERIOD_RANGE[0] <= at500 <= PERIOD_RANGE[1]:
        note = "no usable DPI in the file; ridge spacing fits 500 dpi"
        return TARGET_DPI, "ridge_period", note if meta_dpi is None else f"{note} (file said {meta_dpi:.0f})"
    if not AUTO_DPI_RANGE[0] <= estimate <= AUTO_DPI_RANGE[1]:
        raise Rejected(f"not a fingerprint: no ridge spacing typical of a finger (dominant period {period:.1f} px "
                       f"would mean {estimate:.0f} dpi); if it is a print, give its DPI")
    return estimate, "ridge_period", "no usable DPI in the file; estimated from the ridge spacing"


def to_500dpi(gray: NDArray[np.float64], dpi: float) -> NDArray[np.float64]:
    """Resample to 500 dpi (area averaging when shrinking, Lanczos when enlarging)."""
    from PIL import Image

    factor = TARGET_DPI / dpi
    if abs(factor - 1.0) < 0.02:
        return gray
    h, w = gray.shape
    size = (max(1, int(round(w * factor))), max(1, int(round(h * factor))))
    img = Image.fromarray(gray.astype(np.float32), mode="F")
    method = Image.Resampling.BOX if factor < 1 else Image.Resampling.LANCZOS
    return np.asarray(img.resize(size, method), dtype=np.float64)


def load_print(path: Path, user_dpi: float | None = None) -> PrintImage:
    """Decode an evidence image (any format ``read_image`` takes) to a 500 dpi grey print, or raise ``Rejected``."""
    from retrieval.plugin_api import read_image

    meta_dpi, stored = _metadata_dpi(path)
    rgb = read_image(path, max_side=MAX_DECODE_SIDE)
    gray = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    h, w = gray.shape
    if min(h, w) < MIN_SIDE_PX:
        raise Rejected(f"not a fingerprint: the image is only {w}x{h} pixels")
    if float(gray.std()) < 4.0:
        raise Rejected("not a fingerprint: the image is blank (no contrast)")
    spec = ridge.ridge_period(gray)
    if spec.band_ratio < MIN_BAND_RATIO:
        raise Rejected(f"not a fingerprint: no regular ridge pattern (ridge-band energy {spec.band_ratio:.2f} "
                       f"< {MIN_BAND_RATIO:.2f})")
    shrink = max(w, h) / max(stored) if max(stored) > 0 else 1.0
    if meta_dpi:
        meta_dpi *= shrink
    dpi, source, note = resolve_dpi(gray, meta_dpi, user_dpi * shrink if user_dpi else None, spec.period)
    mm_w, mm_h = w / dpi * 25.4, h / dpi * 25.4
    if min(mm_w, mm_h) < MIN_SIDE_MM:
        raise Rejected(f"not a fingerprint: the image covers only {mm_w:.1f} x {mm_h:.1f} mm at {dpi:.0f} dpi")
    if max(mm_w, mm_h) > MAX_SIDE_MM:
        raise Rejected(
            f"not a fingerprint: the image covers {mm_w:.0f} x {mm_h:.0f} mm at {dpi:.0f} dpi, more than one "
            "fingertip; crop a single print (or give its DPI)"
        )
    return PrintImage(to_500dpi(gray, dpi), dpi / shrink, source, note)
