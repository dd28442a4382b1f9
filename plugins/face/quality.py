"""Per-face quality: size, blur, pose and detector score (pure numpy).

Low-quality faces are kept and searchable, but ranked lower (``quality_score``)
and never used to enrol a watchlist identity (``enrol_ok``). The blur measure is
the variance of the Laplacian of the aligned 112x112 grey crop, so it does not
depend on the face's size in the image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Default thresholds; overridable through the plugin settings of the same names.
QUALITY_DEFAULTS: Mapping[str, float] = {
    "size_low_px": 24.0,  # face side at which size_score is 0
    "size_high_px": 80.0,  # ... and 1
    "blur_low": 15.0,  # Laplacian variance at which blur_score is 0 (heavily blurred)
    "blur_high": 150.0,  # ... and 1 (sharp)
    "max_yaw_deg": 60.0,  # pose_score reaches 0 here
    "enrol_min_px": 40.0,
    "enrol_min_det": 0.8,
    "enrol_min_quality": 0.5,
}


def laplacian_variance(gray: NDArray[np.floating]) -> float:
    """Variance of the 4-neighbour Laplacian over the inner pixels of a grey image."""
    g = np.asarray(gray, dtype=np.float64)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def pose_from_landmarks(landmarks: NDArray[np.floating]) -> dict[str, float]:
    """Rough yaw/pitch/roll in degrees from the five points (right eye, left eye, nose, mouth R, mouth L).

    Roll is the eye-line angle; yaw comes from how far the nose sits from the
    eyes' midpoint (relative to half the eye distance); pitch from where the nose
    sits between the eye line and the mouth line (0.49 on the frontal template).
    """
    p = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_r, eye_l, nose, mouth_r, mouth_l = p
    dx, dy = eye_l - eye_r
    roll = math.degrees(math.atan2(dy, dx))
    c, s = math.cos(-math.radians(roll)), math.sin(-math.radians(roll))
    rot = np.array([[c, -s], [s, c]])
    q = (p - p.mean(0)) @ rot.T
    eye_mid = (q[0] + q[1]) / 2
    half_eye = max(abs(q[1, 0] - q[0, 0]) / 2, 1e-6)
    yaw_ratio = (q[2, 0] - eye_mid[0]) / half_eye
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, yaw_ratio))))
    mouth_mid = (q[3] + q[4]) / 2
    span = mouth_mid[1] - eye_mid[1]
    pitch_ratio = (q[2, 1] - eye_mid[1]) / span if abs(span) > 1e-6 else 0.5
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, (pitch_ratio - 0.494) * 2.0))))
    return {"yaw": round(yaw, 1), "pitch": round(pitch, 1), "roll": round(roll, 1)}


def _ramp(value: float, low: float, high: float) -> float:
    if high <= low:
        return 1.0 if value >= high else 0.0
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def assess(
    box: NDArray[np.floating],
    landmarks: NDArray[np.floating],
    det_score: float,
    blur_var: float,
    settings: Mapping[str, Any] | None = None,
) -> tuple[dict[str, float], float, bool]:
    """Quality measures, overall score in [0, 1], and whether the face may enrol an identity."""
    cfg = {**QUALITY_DEFAULTS, **(settings or {})}
    x1, y1, x2, y2 = (float(v) for v in box)
    size = max(0.0, min(x2 - x1, y2 - y1))
    pose = pose_from_landmarks(landmarks)
    size_score = _ramp(size, cfg["size_low_px"], cfg["size_high_px"])
    blur_score = _ramp(math.log(blur_var + 1.0), math.log(cfg["blur_low"] + 1.0), math.log(cfg["blur_high"] + 1.0))
    off_angle = max(abs(pose["yaw"]), abs(pose["pitch"]) * 1.5)
    pose_score = 1.0 - _ramp(off_angle, 15.0, cfg["max_yaw_deg"])
    det = float(min(1.0, max(0.0, det_score)))
    # Each factor lowers but never zeroes the score: a tiny, sharp, frontal face still ranks above nothing.
    score = math.sqrt(det) * (0.2 + 0.8 * size_score) * (0.2 + 0.8 * blur_score) * (0.2 + 0.8 * pose_score)
    quality = {
        "size_px": round(size, 1),
        "size": round(size_score, 3),
        "blur_var": round(float(blur_var), 1),
        "blur": round(blur_score, 3),
        "pose": round(pose_score, 3),
        "yaw": pose["yaw"],
        "pitch": pose["pitch"],
        "roll": pose["roll"],
        "det_score": round(det, 4),
    }
    enrol_ok = bool(
        size >= cfg["enrol_min_px"] and det >= cfg["enrol_min_det"] and score >= cfg["enrol_min_quality"]
    )
    return quality, round(float(score), 4), enrol_ok
