"""Silero VAD v6 (16 kHz) re-created in torch, plus a streaming speech-span segmenter.

Why: Whisper invents text on silence and music; only audio the VAD calls speech reaches it. The weights are the
initializers of ``silero_vad_16k_sequence.onnx`` from the silero-vad wheel, copied into an equivalent torch graph
at load time (layer layout as in the wheel's ``tinygrad_model.py``); ``tests/test_vad.py`` checks parity with the
wheel's standard ``silero_vad.onnx`` under onnxruntime.

The network sees 512-sample windows plus the previous 64 samples of context; the only state carried across
windows is the LSTM's (h, c). All convolutions of a block of windows run as one batch, and the LSTM runs as one
``nn.LSTM`` call over the window sequence, so a 30 s block costs one forward.

Public surface: ``SileroVad``, ``SpanTracker``, ``load_onnx_weights``, ``WINDOW``, ``CONTEXT``, ``SAMPLE_RATE``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = 16_000
WINDOW = 512  # samples per VAD decision (32 ms)
CONTEXT = 64  # samples of the previous window prepended to each window


def _build_net() -> Any:
    import torch
    from torch import nn

    class SileroNet(nn.Module):
        """Same layers and names as the safetensors file."""

        def __init__(self) -> None:
            super().__init__()
            self.stft_conv = nn.Conv1d(1, 258, kernel_size=256, stride=128, padding=0, bias=False)
            self.conv1 = nn.Conv1d(129, 128, kernel_size=3, stride=1, padding=1)
            self.conv2 = nn.Conv1d(128, 64, kernel_size=3, stride=2, padding=1)
            self.conv3 = nn.Conv1d(64, 64, kernel_size=3, stride=2, padding=1)
            self.conv4 = nn.Conv1d(64, 128, kernel_size=3, stride=1, padding=1)
            self.lstm = nn.LSTM(128, 128, batch_first=True)
            self.final_conv = nn.Conv1d(128, 1, 1)

        def forward(
            self, windows: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
        ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
            """windows: (B, T, CONTEXT + WINDOW) -> probs (B, T), new (h, c) each (1, B, 128)."""
            b, t, n = windows.shape
            x = windows.reshape(b * t, 1, n)
            x = torch.nn.functional.pad(x, (0, 64), mode="reflect")
            x = self.stft_conv(x)
            x = torch.sqrt(x[:, :129, :] ** 2 + x[:, 129:, :] ** 2)
            x = torch.relu(self.conv1(x))
            x = torch.relu(self.conv2(x))
            x = torch.relu(self.conv3(x))
            x = torch.relu(self.conv4(x))  # (B*T, 128, 1)
            feats = x.squeeze(-1).reshape(b, t, 128)
            out, (h, c) = self.lstm(feats, state)
            y = torch.sigmoid(self.final_conv(torch.relu(out).transpose(1, 2)))  # (B, 1, T)
            return y[:, 0, :], (h, c)

    return SileroNet()


def load_onnx_weights(path: Path) -> dict[str, NDArray[np.float32]]:
    """Read the initializers of ``silero_vad_16k_sequence.onnx`` into a torch ``state_dict`` layout.

    ONNX LSTM stacks its gates as (i, o, f, c) with one bias of W and R biases; torch uses (i, f, g, o).
    ``onnx.load`` only parses protobuf: no code from the file runs.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    init = {t.name: numpy_helper.to_array(t).astype(np.float32) for t in model.graph.initializer}
    lstm = next(n for n in model.graph.node if n.op_type == "LSTM")
    w, r, b = (init[name] for name in lstm.input[1:4])
    h = 128
    order = np.concatenate([np.arange(h) + k * h for k in (0, 2, 3, 1)])  # onnx iofc -> torch ifco
    sd = {
        "stft_conv.weight": init["stft.forward_basis_buffer"],
        "final_conv.weight": init["output.weight"],
        "final_conv.bias": init["output.bias"],
        "lstm.weight_ih_l0": w[0][order],
        "lstm.weight_hh_l0": r[0][order],
        "lstm.bias_ih_l0": b[0, : 4 * h][order],
        "lstm.bias_hh_l0": b[0, 4 * h :][order],
    }
    for i in range(4):
        sd[f"conv{i + 1}.weight"] = init[f"encoder.{i}.weight"]
        sd[f"conv{i + 1}.bias"] = init[f"encoder.{i}.bias"]
    return sd


class SileroVad:
    """Speech probability per 32 ms window; streaming (state kept between ``__call__``s) and batchable."""

    def __init__(self, weights: Path, device: str = "cpu") -> None:
        import torch

        sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in load_onnx_weights(weights).items()}
        self.net = _build_net()
        self.net.load_state_dict(sd, strict=True)
        self.net.eval().to(device)
        self.device = device
        self._torch = torch

    def new_state(self) -> dict[str, Any]:
        """Fresh stream state: LSTM (h, c) and the last CONTEXT samples."""
        return {"hc": None, "context": np.zeros(CONTEXT, np.float32)}

    def __call__(self, samples: NDArray[np.float32], state: dict[str, Any]) -> NDArray[np.float32]:
        """Probabilities for ``len(samples) // WINDOW`` windows (callers buffer the remainder)."""
        torch = self._torch
        n = samples.size // WINDOW
        if n == 0:
            return np.zeros(0, np.float32)
        body = samples[: n * WINDOW].astype(np.float32, copy=False)
        padded = np.concatenate([state["context"], body])
        idx = np.arange(n)[:, None] * WINDOW + np.arange(CONTEXT + WINDOW)[None, :]
        windows = torch.from_numpy(padded[idx]).to(self.device).unsqueeze(0)
        with torch.inference_mode():
            probs, hc = self.net(windows, state["hc"])
        state["hc"] = hc
        state["context"] = body[-CONTEXT:].copy()
        return probs[0].float().cpu().numpy()


@dataclass
class SpanTracker:
    """Turns a stream of window probabilities into closed speech spans (sample indices), with hysteresis.

    A span opens at ``threshold``, closes after ``min_silence_s`` below ``neg_threshold``, is padded by ``pad_s``,
    dropped if shorter than ``min_speech_s`` and force-split at the least speech-like window of its last 5 s when
    it reaches ``max_span_s`` (bounded memory for hours of uninterrupted speech).
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_s: float = 0.25
    min_silence_s: float = 0.6
    pad_s: float = 0.2
    max_span_s: float = 30.0
    _n: int = 0  # windows seen
    _start: int | None = None  # window index where the open span starts
    _silence_since: int | None = None
    _probs: list[float] = field(default_factory=list)  # probs of the open span, for force-splitting
    _closed: list[tuple[int, int]] = field(default_factory=list)
    _last_end: int = 0

    def _w(self, seconds: float) -> int:
        return max(1, int(round(seconds * SAMPLE_RATE / WINDOW)))

    def _close(self, end_window: int) -> None:
        assert self._start is not None
        if end_window - self._start >= self._w(self.min_speech_s):
            pad = int(self.pad_s * SAMPLE_RATE)
            s = max(0, self._start * WINDOW - pad)
            e = end_window * WINDOW + pad
            s = max(s, self._last_end)  # padding must not reach back into the previous span
            self._closed.append((s, e))
            self._last_end = e
        self._start = None
        self._silence_since = None
        self._probs = []

    def feed(self, probs: NDArray[np.float32]) -> list[tuple[int, int]]:
        """Consume window probabilities; return spans that closed (start_sample, end_sample; end may pass EOF)."""
        for p in probs.tolist():
            i = self._n
            self._n += 1
            if self._start is None:
                if p >= self.threshold:
                    self._start, self._silence_since, self._probs = i, None, [p]
                continue
            self._probs.append(p)
            if p >= self.threshold:
                self._silence_since = None
            elif p < self.neg_threshold and self._silence_since is None:
                self._silence_since = i
            if self._silence_since is not None and i + 1 - self._silence_since >= self._w(self.min_silence_s):
                self._close(self._silence_since)
                continue
            if i + 1 - self._start >= self._w(self.max_span_s):
                probs_open, start = self._probs, self._start
                # cut at the least speech-like window of the last 5 s (the latest one on ties), never in the
                # first half of the span, so both parts stay long enough to decode
                first = max(len(probs_open) // 2, len(probs_open) - self._w(5.0))
                tail = np.asarray(probs_open[first:])
                cut = start + first + (len(tail) - 1 - int(np.argmin(tail[::-1])))
                saved_pad = self.pad_s
                self.pad_s = 0.0  # a forced cut is inside speech: no padding across it
                self._close(cut)
                self.pad_s = saved_pad
                self._start, self._probs = cut, probs_open[cut - start:]
                self._silence_since = None
        out, self._closed = self._closed, []
        return out

    def flush(self) -> list[tuple[int, int]]:
        """End of stream: close the open span, if any."""
        if self._start is not None:
            self._close(self._silence_since if self._silence_since is not None else self._n)
        out, self._closed = self._closed, []
        return out

    def open_start_sample(self) -> int | None:
        """Sample where the open span (with padding) starts, or None: audio before it can be dropped."""
        if self._start is None:
            return None
        return max(0, self._start * WINDOW - int(self.pad_s * SAMPLE_RATE))
