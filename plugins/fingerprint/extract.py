"""From a 500 dpi grey print to a checked minutiae template (segmentation, enhancement, MINDTCT, quality).

Public surface: ``Extraction``, ``extract``, ``GateThresholds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from plugins.fingerprint import ridge
from plugins.fingerprint.native import NativeLib
from plugins.fingerprint.preprocessing import PERIOD_RANGE, Rejected
from plugins.fingerprint.template import Template

MAX_MINUTIAE = 100
BORDER_PX = 10


@dataclass(frozen=True, slots=True)
class GateThresholds:
    """When a 500 dpi image stops counting as a fingerprint (tuned on synthetic, real and non-print images)."""

    min_area_mm2: float = 25.0
    min_coherence: float = 0.45
    min_band_ratio: float = 0.45
    min_minutiae: int = 6


@dataclass(frozen=True, slots=True)
class Extraction:
    template: Template
    period: float
    area_mm2: float
    coherence: float
    box: tuple[int, int, int, int]  # ridge-area bounding box (x1, y1, x2, y2) at 500 dpi
    diagnostics: dict[str, float] = field(default_factory=dict)


def _check(
    gray: NDArray[np.float64], gate: GateThresholds
) -> tuple[NDArray[np.float64], NDArray[np.bool_], float, dict[str, float]]:
    spec = ridge.ridge_period(gray)
    theta, coh = ridge.orientation_field(gray)
    mask = ridge.foreground(gray, coh)
    area_mm2 = float(mask.sum()) * (25.4 / 500.0) ** 2
    mean_coh = float(coh[mask].mean()) if mask.any() else 0.0
    diag = {"period_px": round(spec.period, 2), "band_ratio": round(spec.band_ratio, 3), "area_mm2": round(area_mm2, 1),
            "coherence": round(mean_coh, 3)}
    if not PERIOD_RANGE[0] <= spec.period <= PERIOD_RANGE[1]:
        raise Rejected(f"not a fingerprint: no ridge spacing typical of a finger at 500 dpi (dominant period "
                       f"{spec.period:.1f} px); if it is a print, give its DPI")
    if spec.band_ratio < gate.min_band_ratio:
        raise Rejected(f"not a fingerprint: no regular ridge pattern (ridge-band energy {spec.band_ratio:.2f} "
                       f"< {gate.min_band_ratio:.2f})")
    if area_mm2 < gate.min_area_mm2:
        raise Rejected(f"not a fingerprint: ridge area {area_mm2:.0f} mm2 is below {gate.min_area_mm2:.0f} mm2")
    if mean_coh < gate.min_coherence:
        raise Rejected(f"not a fingerprint: ridge flow is incoherent (coherence {mean_coh:.2f} "
                       f"< {gate.min_coherence:.2f})")
    return theta, mask, spec.period, diag


def extract(
    gray: NDArray[np.float64],
    lib: NativeLib,
    *,
    enhance: bool = True,
    quality: bool = True,
    gate: GateThresholds | None = None,
) -> Extraction:
    """Template of a 500 dpi grey print; raises ``Rejected`` with a readable reason for non-prints."""
    from scipy import ndimage

    gate = gate or GateThresholds()
    theta, mask, period, diag = _check(gray, gate)
    if enhance:
        img = ridge.enhance(gray, theta, mask, period)
    else:
        img = np.clip(gray, 0, 255).astype(np.uint8)
    mins = lib.mindtct(img, 500.0)
    inner = ndimage.binary_erosion(mask, iterations=BORDER_PX, border_value=0)
    if len(mins):
        xi = np.clip(mins[:, 0].astype(int), 0, gray.shape[1] - 1)
        yi = np.clip(mins[:, 1].astype(int), 0, gray.shape[0] - 1)
        mins = mins[inner[yi, xi]]
        mins = mins[np.argsort(-mins[:, 4], kind="stable")][:MAX_MINUTIAE]
    diag["minutiae"] = float(len(mins))
    if len(mins) < gate.min_minutiae:
        raise Rejected(f"fingerprint quality too low: only {len(mins)} reliable minutiae (need {gate.min_minutiae})")
    score = 0
    if quality:
        from afis import compute_nfiq2

        score = int(compute_nfiq2(gray, minutiae=mins.astype(np.float64), n_minutiae=len(mins)).score)
    h, w = gray.shape
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return Extraction(Template(mins, w, h, score), period, diag["area_mm2"], diag["coherence"], box, diag)
