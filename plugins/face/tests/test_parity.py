"""The torch graphs (what the worker runs) match onnxruntime on the same ONNX files.

Tolerance: ``PARITY_ATOL`` (1e-4) absolute on every output; observed ~2e-6.
"""

from __future__ import annotations

import numpy as np
import pytest

from plugins.face.onnx_torch import PARITY_ATOL, patched_model, to_torch
from plugins.face.tests.conftest import load_rgb

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is pinned in requirements/plugin-face.txt")


def run_both(path, x):
    import torch

    module = to_torch(path)
    with torch.inference_mode():
        out = module(torch.from_numpy(x).contiguous(memory_format=torch.channels_last))
    out = [o.numpy() for o in (out if isinstance(out, (list, tuple)) else [out])]
    session = ort.InferenceSession(patched_model(path).SerializeToString(), providers=["CPUExecutionProvider"])
    ref = session.run(None, {session.get_inputs()[0].name: x})
    return out, ref


def test_sface_matches_onnxruntime(face_model_dir):
    from PIL import Image

    names = ("biden.jpg", "obama_a.jpg")
    faces = [np.asarray(Image.fromarray(load_rgb(n)).resize((112, 112)), np.float32) for n in names]
    x = np.stack(faces).transpose(0, 3, 1, 2).copy()
    (out,), (ref,) = run_both(face_model_dir / "face_recognition_sface_2021dec.onnx", x)
    assert out.shape == (2, 128)
    assert np.abs(out - ref).max() < PARITY_ATOL


def test_yunet_matches_onnxruntime_at_any_size_and_batch(face_model_dir):
    rgb = load_rgb("astronaut.jpg")[:160, :128, ::-1].astype(np.float32)
    x = np.stack([rgb, rgb[::-1]]).transpose(0, 3, 1, 2).copy()
    out, ref = run_both(face_model_dir / "face_detection_yunet_2023mar.onnx", x)
    assert len(out) == 12 and out[0].shape == (2, 20 * 16, 1)
    for a, b in zip(out, ref, strict=True):
        assert np.abs(a - b).max() < PARITY_ATOL


def test_yunet_matches_the_unmodified_file_at_its_declared_size(face_model_dir):
    """The graph edits change no numbers: compare with the original ONNX at 1x3x640x640."""
    import torch

    path = face_model_dir / "face_detection_yunet_2023mar.onnx"
    x = np.zeros((1, 3, 640, 640), np.float32)
    x[0, :, :188, :188] = load_rgb("astronaut.jpg")[..., ::-1].transpose(2, 0, 1)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = session.run(None, {"input": x})
    with torch.inference_mode():
        out = to_torch(path)(torch.from_numpy(x))
    for a, b in zip(out, ref, strict=True):
        assert np.abs(a.numpy() - b).max() < PARITY_ATOL


def test_yunet_with_pointwise_convolutions_through_onednn_still_matches_onnxruntime(face_model_dir):
    """CPU workers run YuNet's 1x1 convolutions dilated where that puts them on oneDNN (2-2.7x faster with one
    thread, ``retrieval.cpu_kernels``): only those 26 layers change, and the outputs stay within the parity
    tolerance, both at a tile size where the new kernel is used and at a small one where torch's own is."""
    import torch

    from plugins.face.model import load_yunet
    from retrieval.cpu_kernels import OneDnnPointwise, route_pointwise_to_onednn

    path = face_model_dir / "face_detection_yunet_2023mar.onnx"
    plain, routed = to_torch(path), route_pointwise_to_onednn(to_torch(path))
    changed = [m for m in routed.modules() if isinstance(m, OneDnnPointwise)]
    assert len(changed) == 26 and all(m.kernel_size == (1, 1) and m.stride == (1, 1) for m in changed)
    assert sum(isinstance(m, OneDnnPointwise) for m in load_yunet(face_model_dir, "cpu").modules()) == 26
    rgb = load_rgb("astronaut.jpg")[..., ::-1].astype(np.float32)
    for side in (640, 96):
        x = np.zeros((1, 3, side, side), np.float32)
        x[0, :, : min(side, 188), : min(side, 188)] = rgb[: min(side, 188), : min(side, 188)].transpose(2, 0, 1)
        session = ort.InferenceSession(patched_model(path).SerializeToString(), providers=["CPUExecutionProvider"])
        ref = session.run(None, {session.get_inputs()[0].name: x})
        with torch.inference_mode():
            tensor = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
            out, before = routed(tensor), plain(tensor)
        for a, b, c in zip(out, before, ref, strict=True):
            assert np.abs(a.numpy() - c).max() < PARITY_ATOL
            assert np.abs(a.numpy() - b.numpy()).max() < 1e-5
