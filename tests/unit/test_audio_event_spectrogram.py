"""The spectrogram of the audio-event panel: bounded width whatever the length, exact for any chunking,
robust to silence, DC offset, clipping and non-finite samples; time and pitch land where they should."""

from __future__ import annotations

import numpy as np

from retrieval import media_io
from retrieval.services import audio_events as ae

SR = ae.SPEC_SR


def _columns(wave: np.ndarray, chunk: int, hop: int = 160) -> ae._Columns:
    cols = ae._Columns(hop)
    for i in range(0, wave.size, chunk):
        cols.feed(wave[i : i + chunk])
    return cols


def test_chunking_does_not_change_the_columns() -> None:
    wave = (0.1 * np.random.default_rng(0).standard_normal(5 * SR)).astype(np.float32)
    whole = np.stack(_columns(wave, wave.size).cols)
    for chunk in (100, 511, 4000, 30_001):
        assert np.allclose(np.stack(_columns(wave, chunk).cols), whole, atol=1e-4)


def test_long_recording_stays_bounded_and_covers_the_whole_duration() -> None:
    minutes = 12
    t = np.arange(minutes * 60 * SR) / SR
    wave = np.where(t >= minutes * 60 * 0.75, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)
    cols = _columns(wave, 30 * SR)
    assert len(cols.cols) <= ae.SPEC_MAX_COLUMNS and cols.hop > 160
    image = cols.image()
    assert image.shape[1] == len(cols.cols) and image.shape[0] == ae.SPEC_MELS
    brightness = image.astype(float).sum(axis=(0, 2))
    onset = int(np.argmax(brightness > brightness.max() / 2)) / image.shape[1]
    assert abs(onset - 0.75) < 0.01  # the tone starts three quarters in, on the image too


def test_pitch_is_drawn_low_at_the_bottom_high_at_the_top() -> None:
    t = np.arange(2 * SR) / SR
    low = _columns((0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), SR).image().astype(float).sum(axis=(1, 2))
    high = _columns((0.5 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32), SR).image().astype(float).sum(axis=(1, 2))
    assert np.argmax(low) > ae.SPEC_MELS * 0.6 and np.argmax(high) < ae.SPEC_MELS * 0.3


def test_silence_dc_clipping_and_nan_render_without_error() -> None:
    for wave in (np.zeros(SR, np.float32), np.full(SR, 0.7, np.float32),
                 np.clip(3 * np.sin(np.arange(SR) / 5.0), -1, 1).astype(np.float32),
                 np.array([np.nan, np.inf, -np.inf] * 2000, np.float32), np.zeros(10, np.float32)):
        image = _columns(wave, 4000).image()
        assert image.dtype == np.uint8 and image.shape[0] == ae.SPEC_MELS and image.shape[1] >= 1
    dc = _columns(np.full(SR, 0.7, np.float32), 4000).image()
    assert (dc == dc[0, 0]).all()  # a constant offset paints nothing (dark image, no bottom band)


def test_clock_and_links() -> None:
    assert ae.clock(3.04) == "0:03.0" and ae.clock(75.25) == "1:15.2" and ae.clock(3725) == "1:02:05"
    assert ae.media_href(7, 12.5) == "/media/7/?t=12.5" and ae.media_href(7, None) == "/media/7/"
    assert ae.plain_name("gunshot") == "Gunshot / gunfire"
    assert ae.plain_name("Door", {"plain_name": "Door"}) == "Door"


def test_a_cut_recording_keeps_its_time_axis_with_the_missing_part_grey(tmp_path) -> None:
    """A FLAC that declares 20 s but decodes only part of it: a tone at 3-5 s is drawn at 15-25 % of the width
    (where the event bars for 3-5 s are), not stretched over the image; the undecodable rest is a grey band."""
    import io

    import soundfile as sf
    from PIL import Image

    t = np.arange(20 * SR) / SR
    wave = np.where((t >= 3) & (t < 5), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.001 * np.sin(t)).astype(np.float32)
    out = io.BytesIO()
    sf.write(out, wave, SR, format="FLAC")
    data = out.getvalue()
    for name, blob in (("whole", data), ("cut", data[: len(data) // 2])):
        path = tmp_path / f"{name}.flac"
        path.write_bytes(blob)
        rgb = np.asarray(Image.open(io.BytesIO(ae.render_spectrogram(path, 20.0))).convert("RGB")).astype(int)
        width = rgb.shape[1]
        is_grey = (rgb == ae.NO_AUDIO_RGB).all(axis=(0, 2))
        brightness = np.where(is_grey, 0, rgb.sum(axis=(0, 2)))
        lit = np.flatnonzero(brightness > brightness.max() / 2) / width
        assert abs(lit.min() - 0.15) < 0.01 and abs(lit.max() - 0.25) < 0.01, (name, lit.min(), lit.max())
        grey = np.flatnonzero(is_grey) / width
        if name == "whole":
            assert grey.size == 0
        else:  # grey from where decoding stopped (the near-silence compresses to little: ~5.6 s of the 20)
            decoded = sum(c.size for _, c in media_io.iter_audio(path, sample_rate=SR)) / SR
            assert 5.0 < decoded < 15.0
            assert abs(grey.min() - decoded / 20.0) < 0.01 and grey.max() == (width - 1) / width
