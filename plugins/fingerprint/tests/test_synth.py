"""The synthetic generator is deterministic, varied, and looks like a print to the pipeline's own checks."""

from __future__ import annotations

import numpy as np

from plugins.fingerprint import ridge, synth


def test_it_is_deterministic_per_seed(synth_finger) -> None:
    a = synth_finger(11, 2)
    b = synth.finger_images(11, 2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert a[0].shape == synth.FRAME_SHAPE and a[0].dtype == np.uint8


def test_impressions_differ_and_have_fingerprint_statistics(synth_finger) -> None:
    imgs = synth_finger(11, 2)
    assert np.abs(imgs[0].astype(int) - imgs[1].astype(int)).mean() > 10  # rotated / shifted / distorted
    for img in imgs:
        spec = ridge.ridge_period(img.astype(float))
        assert 7.5 <= spec.period <= 11.5
        assert spec.band_ratio > 0.5


def test_pattern_classes_follow_their_frequencies() -> None:
    rng = np.random.default_rng(0)
    draws = rng.choice(synth._PATTERNS, p=synth._PATTERN_P, size=2000)
    assert 0.6 < np.mean((draws == "left_loop") | (draws == "right_loop")) < 0.72


def test_dpi_parameter_scales_the_frame() -> None:
    img = synth.finger_images(5, 1, dpi=1000)[0]
    assert img.shape == (synth.FRAME_SHAPE[0] * 2, synth.FRAME_SHAPE[1] * 2)
