"""The torch re-creation of YAMNet against the reference runtime (onnxruntime on the carrier's ONNX).

Stated tolerances (measured on these synthetic clips and on 29 patches of dev-corpus sound effects):
- torch with every QDQ op emulated vs onnxruntime with graph optimisations off (the ONNX graph's own
  semantics): >= 80 % of logits bit-identical, none more than 4 output quantisation steps (1 step = 0.757 logit)
  apart. Differences come from float accumulation order flipping an 8-bit rounding that later layers amplify.
- torch float (production) vs onnxruntime default session (its fused int8 kernels): mean |delta probability|
  <= 0.01 and 99th percentile <= 0.12 (the reference itself is 8-bit: probabilities move in coarse steps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from plugins.audio_events import model as M
from plugins.audio_events.pipeline import StreamAnalyzer, Yamnet
from plugins.audio_events.tests.conftest import noise, place, siren

SR = 16_000


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    t = np.arange(3 * SR) / SR
    beeps = (0.3 * np.sign(np.sin(2 * np.pi * 3100 * t)) * (((t / 0.25) % 2) < 1)).astype(np.float32)
    chirp = (0.3 * np.sin(2 * np.pi * (200 * t + 600 * t**2))).astype(np.float32)
    clicks = np.zeros(3 * SR, np.float32)
    clicks[rng.integers(0, clicks.size - 400, 12)] = 0.9
    return [siren(3.0, SR), siren(3.0, SR, "hilo"), noise(2.0, SR, 0.1, 1), beeps, chirp, clicks]


@pytest.fixture(scope="module")
def patches(clips: list[np.ndarray]) -> torch.Tensor:
    logmel = M.LogMel()
    out = []
    with torch.inference_mode():
        for x in clips:
            x = np.pad(x, (0, M.padded_length(x.size) - x.size))
            out.append(M.patches_from_logmel(logmel(torch.from_numpy(x)[None])[0]))
    return torch.cat(out)


def _ort(model_dir: Path, optimise: bool):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimise else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    so.intra_op_num_threads = 2
    return ort.InferenceSession(str(model_dir / "model.onnx"), so, providers=["CPUExecutionProvider"])


def _reference(model_dir: Path, qin: np.ndarray, optimise: bool) -> np.ndarray:
    sess = _ort(model_dir, optimise)
    out = [sess.run(None, {"audio": qin[i : i + 1]})[0] for i in range(qin.shape[0])]
    return M.dequantize_output(np.concatenate(out), model_dir / "model.onnx")


def test_quantisation_emulation_matches_onnx_graph(model_dir: Path, patches: torch.Tensor) -> None:
    onnx_path = model_dir / "model.onnx"
    qin = M.quantize_input(patches.numpy(), onnx_path)
    ref = _reference(model_dir, qin, optimise=False)
    net = M.load_from_onnx(onnx_path, quantized=True)
    with torch.inference_mode():
        logits, _ = net(torch.from_numpy(qin.astype(np.float32) - 144.0) * net._qin.scale)
    steps = np.abs(logits.numpy() - ref) / float(net._qout.scale)
    assert (steps < 0.01).mean() >= 0.80
    assert steps.max() <= 4.0


def test_float_model_matches_reference_runtime(model_dir: Path, patches: torch.Tensor) -> None:
    onnx_path = model_dir / "model.onnx"
    ref = M.sigmoid(_reference(model_dir, M.quantize_input(patches.numpy(), onnx_path), optimise=True))
    net = M.load_from_onnx(onnx_path)
    with torch.inference_mode():
        logits, emb = net(patches)
    diff = np.abs(M.sigmoid(logits.numpy()) - ref)
    assert diff.mean() <= 0.01
    assert np.quantile(diff, 0.99) <= 0.12
    assert emb.shape == (patches.shape[0], 1024)


def test_carrier_mismatch_is_refused(tmp_path: Path, model_dir: Path) -> None:
    import onnx

    proto = onnx.load(str(model_dir / "model.onnx"))
    conv = next(n for n in proto.graph.node if n.op_type == "Conv")
    next(a for a in conv.attribute if a.name == "strides").ints[:] = [1, 1]
    bad = tmp_path / "model.onnx"
    onnx.save(proto, str(bad))
    with pytest.raises(ValueError, match="does not match"):
        M.load_from_onnx(bad)


def test_front_end_shapes_and_dc_invariance() -> None:
    mel = M.tf_mel_matrix()
    assert mel.shape == (257, 64) and mel[0].sum() == 0 and (mel.sum(axis=0) > 0).all()
    x = siren(2.0, SR)
    logmel = M.LogMel()
    with torch.inference_mode():
        a = logmel(torch.from_numpy(x)[None])[0]
        b = logmel(torch.from_numpy(x + 0.3)[None])[0]
    assert a.shape == ((x.size - 400) // 160 + 1, 64)
    assert float((a - b).abs().max()) < 0.01  # float32 rounding of the offset only


def test_streamed_chunks_equal_whole_file(model_dir: Path) -> None:
    yam = Yamnet(model_dir)
    x = place(9.3, SR, 2.0, siren(4.0, SR), seed=5)
    whole = StreamAnalyzer(yam)
    whole.feed(x)
    a = whole.finish()
    streamed = StreamAnalyzer(yam, chunk_patches=3)
    for i in range(0, x.size, 12_345):  # chunk borders fall anywhere
        streamed.feed(x[i : i + 12_345])
    b = streamed.finish()
    assert a.scores.shape == b.scores.shape == (M.patch_count(M.padded_length(x.size)), len(a.label_keys))
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
    np.testing.assert_allclose(a.energy[: b.energy.size], b.energy[: a.energy.size], atol=1e-4)
    assert len(a.embeddings) == len(b.embeddings) == 10  # one per 0.96 s: 19 patches, even ones


def test_cpu_runs_the_network_in_cache_sized_batches(model_dir: Path) -> None:
    """Why: 512-patch batches on a CPU make every activation ~100 MB, so the run is memory-bound (~3x slower
    than 32- or 64-patch batches on 2 cores, docs/benchmarks/audio_events.md); GPUs keep large batches."""
    yam = Yamnet(model_dir, device="cpu")
    seen: list[int] = []
    hook = yam.net.register_forward_pre_hook(lambda _m, args: seen.append(int(args[0].shape[0])))
    x = place(60.0, SR, 10.0, siren(4.0, SR), seed=7)  # 124 patches
    try:
        logits, embs, _, _ = yam.run(x)
        assert seen and max(seen) <= M.CPU_PATCH_BATCH < logits.shape[0]
        seen.clear()
        whole_logits, whole_embs, _, _ = yam.run(x, max_batch=1024)
    finally:
        hook.remove()
    assert seen == [logits.shape[0]]
    np.testing.assert_allclose(logits, whole_logits, atol=1e-3)
    np.testing.assert_allclose(embs, whole_embs, atol=1e-4)
    assert M.GPU_PATCH_BATCH >= 256 and Yamnet.batch_for(torch.device("cuda")) == M.GPU_PATCH_BATCH


def test_stride_two_layers_need_no_padding_copy(model_dir: Path, patches: torch.Tensor,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """TF "SAME" on a stride-2 layer pads only bottom/right. Copying every activation into a padded tensor
    cost ~9 % of the CPU time; a 4x4 kernel (the 3x3 weights in its lower-right corner) with symmetric
    padding 1 covers the same input rows and columns, so the float path gives the same outputs without it."""
    import torch.nn.functional as F

    net = M.load_from_onnx(model_dir / "model.onnx").to(memory_format=torch.channels_last)
    x = patches.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        h = x
        for conv in net.convs:  # the reference: explicit TF padding, 3x3 weights
            if conv.stride[0] == 2:
                h = F.pad(h, (0, 1, 0, 1))
            h = F.relu(F.conv2d(h, conv.weight, conv.bias, conv.stride, conv.padding, 1, conv.groups))
        ref_emb = h.mean(dim=(2, 3))
        ref_logits = net.classifier(ref_emb)
        pads: list[int] = []
        real_pad = F.pad
        monkeypatch.setattr(F, "pad", lambda *a, **k: pads.append(1) or real_pad(*a, **k))
        logits, emb = net(x)
    assert not pads
    np.testing.assert_allclose(emb.numpy(), ref_emb.numpy(), atol=1e-4)
    np.testing.assert_allclose(logits.numpy(), ref_logits.numpy(), atol=1e-3)
