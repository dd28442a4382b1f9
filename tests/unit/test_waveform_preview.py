"""The waveform preview keeps the time axis of a recording that decodes only in part."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.services.previews import WAVE_SIZE, audio_waveform

SHADE = (226, 232, 240)


def _flac(seconds: float = 20.0, burst: tuple[float, float] = (3.0, 5.0), rate: int = 16_000) -> bytes:
    import soundfile as sf

    x = 0.005 * np.random.default_rng(0).standard_normal(int(seconds * rate)).astype(np.float32)
    a, b = (int(t * rate) for t in burst)
    x[a:b] += 0.8 * np.sin(2 * np.pi * 440 * np.arange(b - a) / rate).astype(np.float32)
    out = io.BytesIO()
    sf.write(out, x, rate, format="FLAC")
    return out.getvalue()


def _loud_columns(png: Path) -> tuple[np.ndarray, np.ndarray]:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    blue = (rgb[..., 2] > 200) & (rgb[..., 0] < 100)
    loud = np.flatnonzero(blue.sum(axis=0) > WAVE_SIZE[1] // 2)
    shaded = np.flatnonzero((rgb[5] == SHADE).all(axis=1))
    return loud, shaded


def test_a_cut_recording_is_drawn_where_it_plays_and_the_missing_part_is_shaded(tmp_path: Path) -> None:
    whole = _flac()
    width = WAVE_SIZE[0]
    for name, data in (("whole", whole), ("cut", whole[: len(whole) // 2])):
        src = tmp_path / f"{name}.flac"
        src.write_bytes(data)
        decoded = audio_waveform(src, tmp_path / f"{name}.png", 20.0)
        loud, shaded = _loud_columns(tmp_path / f"{name}.png")
        # the 3-5 s burst of a 20 s axis: columns 15-25 % of the width, in both files
        assert abs(loud.min() / width - 0.15) < 0.02 and abs(loud.max() / width - 0.25) < 0.02, (name, loud)
        if name == "whole":
            assert decoded > 19.9 and shaded.size == 0
        else:
            assert 8.0 < decoded < 12.0
            assert shaded.min() == int(width * decoded / 20.0) and shaded.max() == width - 1
