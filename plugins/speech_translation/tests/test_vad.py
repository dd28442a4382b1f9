"""Silero VAD torch port: parity with onnxruntime, streaming equivalence, and the span tracker."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.speech_translation.tests.conftest import SR, read_sample
from plugins.speech_translation.vad import CONTEXT, SAMPLE_RATE, WINDOW, SileroVad, SpanTracker


@pytest.fixture(scope="module")
def vad(model_dir):
    return SileroVad(model_dir / "silero-vad" / "silero_vad_16k_sequence.onnx")


@pytest.fixture(scope="module")
def speech_and_noise():
    speech = read_sample("librivox_0870.flac")
    rng = np.random.default_rng(0)
    return np.concatenate([np.zeros(SR, np.float32), speech, 0.05 * rng.standard_normal(2 * SR).astype(np.float32),
                           speech[: 2 * SR]]).astype(np.float32)


def _onnx_probs(model_dir, audio):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_dir / "silero-vad" / "silero_vad.onnx"), providers=["CPUExecutionProvider"])
    state = np.zeros((2, 1, 128), np.float32)
    ctx = np.zeros((1, CONTEXT), np.float32)
    out = []
    for i in range(0, audio.size // WINDOW * WINDOW, WINDOW):
        x = np.concatenate([ctx, audio[None, i : i + WINDOW]], axis=1)
        p, state = sess.run(None, {"input": x, "state": state, "sr": np.array(SR, np.int64)})
        out.append(float(p[0, 0]))
        ctx = x[:, -CONTEXT:]
    return np.array(out, np.float32)


def test_it_matches_the_reference_onnx_runtime(vad, model_dir, speech_and_noise):
    ours = vad(speech_and_noise, vad.new_state())
    ref = _onnx_probs(model_dir, speech_and_noise)
    assert ours.shape == ref.shape
    assert float(np.abs(ours - ref).max()) < 1e-4  # measured 2.4e-05 (float32 LSTM vs ORT kernels)


def test_it_streams_in_arbitrary_chunks(vad, speech_and_noise):
    whole = vad(speech_and_noise, vad.new_state())
    state, pending, parts = vad.new_state(), np.zeros(0, np.float32), []
    for k in range(0, speech_and_noise.size, 24_001):
        pending = np.concatenate([pending, speech_and_noise[k : k + 24_001]])
        n = pending.size // WINDOW * WINDOW
        parts.append(vad(pending[:n], state))
        pending = pending[n:]
    assert np.allclose(np.concatenate(parts), whole, atol=1e-6)


def test_it_finds_speech_and_not_noise(vad, speech_and_noise):
    tracker = SpanTracker()
    spans = tracker.feed(vad(speech_and_noise, vad.new_state())) + tracker.flush()
    secs = [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in spans]
    assert len(secs) == 2, secs
    assert secs[0][0] == pytest.approx(1.0, abs=0.5) and secs[0][1] == pytest.approx(8.1, abs=0.5)
    assert secs[1][0] == pytest.approx(10.1, abs=0.5)


def test_it_gives_no_span_on_silence_and_hum(vad):
    t = np.arange(10 * SR) / SR
    hum = (0.3 * np.sin(2 * np.pi * 50 * t) + 0.1 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    for audio in (np.zeros(10 * SR, np.float32), hum):
        tracker = SpanTracker()
        assert tracker.feed(vad(audio, vad.new_state())) + tracker.flush() == []


def test_it_force_splits_long_speech_inside_the_limit():
    tracker = SpanTracker(max_span_s=5.0)
    w = SAMPLE_RATE / WINDOW  # 31.25 windows per second
    probs = np.full(int(20 * w), 0.9, np.float32)
    probs[int(8.5 * w)] = 0.2  # one weak window in the second span: the preferred cut point
    spans = [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in tracker.feed(probs) + tracker.flush()]
    assert len(spans) == 5, spans
    assert max(e - s for s, e in spans) <= 5.0 + 0.25
    assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False))  # no overlap
    assert spans[1][1] == pytest.approx(8.5, abs=0.05)
