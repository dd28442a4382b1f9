"""Detect -> align -> embed -> assess, for a batch of images (worker only: imports torch).

Everything after decoding happens on ``device``: the pyramid and its tiles, YuNet,
the alignment warps, SFace, and the blur measure. Only boxes/landmarks (for the
similarity transforms and NMS) and the final vectors come back to the CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plugins.face.alignment import similarity_transforms, warp_faces
from plugins.face.quality import assess

YUNET_FILE = "face_detection_yunet_2023mar.onnx"
SFACE_FILE = "face_recognition_sface_2021dec.onnx"


@dataclass(slots=True)
class Face:
    """One detected face with everything the plugin reports about it."""

    box: tuple[float, float, float, float]
    det_score: float
    landmarks: NDArray[np.float32]  # (5, 2)
    vector: NDArray[np.float32]  # (128,), L2-normalised
    quality: dict[str, float] = field(default_factory=dict)
    quality_score: float = 0.0
    enrol_ok: bool = False


def to_tensor(rgb: Any, device: str) -> Any:
    """HWC uint8 RGB array, or CHW uint8 tensor decoded on the device -> CHW float32 on the device.

    Arrays go up as uint8: 4x less traffic than float.
    """
    import torch

    if isinstance(rgb, torch.Tensor):
        return rgb.to(device).float()
    return torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1).float()


def cpu_sources(images: Sequence[Any], device: str) -> list[Any] | None:
    """The uint8 arrays to build pyramid levels from on a CPU (cheaper in bytes); ``None`` elsewhere."""
    import torch

    if torch.device(device).type != "cpu":
        return None
    return [img if isinstance(img, np.ndarray) and img.ndim == 3 and img.shape[2] == 3 else None for img in images]


def load_module(path: Path, device: str, example_shape: tuple[int, ...] | None) -> Any:
    """ONNX file -> torch module on ``device``; frozen TorchScript on CPU when given an example shape."""
    import torch

    from plugins.face.onnx_torch import optimise_for_cpu, to_torch

    module = to_torch(path).to(device)
    if example_shape is not None and torch.device(device).type == "cpu":
        # A deterministic, non-constant pixel ramp: tracing needs only an input of the right shape and range.
        example = torch.linspace(0.0, 255.0, int(np.prod(example_shape))).reshape(example_shape)
        module = optimise_for_cpu(module, example)
    return module


def detector_cut(settings: Mapping[str, Any], on_gpu: bool) -> dict[str, Any]:
    """How pyramid levels are cut into detector inputs: fixed 640-px tiles on a GPU (equal shapes, batched),
    balanced tiles of up to ``cpu_tile`` px on a CPU (run one by one: fewer pixels, no batching to keep)."""
    if on_gpu:
        return {"cut": None, "balanced": False}
    return {"cut": int(settings.get("cpu_tile") or 1280), "balanced": True}


def load_yunet(model_dir: Path, device: str) -> Any:
    """The converted YuNet, taking RGB input; on a CPU with its 1x1 convolutions routed to oneDNN."""
    import torch

    from plugins.face.detection import rgb_input
    from retrieval.cpu_kernels import route_pointwise_to_onednn

    yunet = rgb_input(load_module(Path(model_dir) / YUNET_FILE, device, None))
    return route_pointwise_to_onednn(yunet) if torch.device(device).type == "cpu" else yunet


class FaceEngine:
    """Loaded YuNet + SFace; thread-safe ``analyse``."""

    accepts_tensors = True  # analyse() takes (3, H, W) uint8 tensors decoded on the device, too

    def __init__(self, model_dir: Path, device: str, settings: Mapping[str, Any]) -> None:
        import torch

        from plugins.face.detection import YuNetDetector

        self.device = device
        self.settings = dict(settings)
        on_gpu = torch.device(device).type == "cuda"
        self._lock = threading.Lock()
        # YuNet sees many input shapes (tiles, levels): eager, no per-shape re-optimisation.
        # SFace always sees 112x112 batches: frozen on CPU. GPUs get batches padded to a multiple of 8 (few shapes
        # for cuDNN's autotuner); a CPU pays a full face per padded row, so it runs the real faces only.
        # Layout and precision on a GPU: depthwise convolutions are fast in some layouts/dtypes only.
        channels_last = bool(self.settings.get("channels_last", True))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.autocast_dtype = getattr(torch, str(self.settings.get("gpu_dtype") or "float32")) if on_gpu else None
        yunet = load_yunet(model_dir, device)
        self.sface = load_module(Path(model_dir) / SFACE_FILE, device, (8, 3, 112, 112))
        if on_gpu:
            # cuDNN's default algorithm choice for these depthwise-heavy nets ran YuNet + SFace at about a third
            # of the autotuned speed on an H100 (bench/gpu_throughput.py); the worker process owns its GPU.
            torch.backends.cudnn.benchmark = bool(self.settings.get("cudnn_benchmark", True))
            yunet = yunet.to(memory_format=self.memory_format)
            self.sface = self.sface.to(memory_format=self.memory_format)
        self.detector = YuNetDetector(
            yunet,
            device,
            score_threshold=float(self.settings.get("score_threshold", 0.6)),
            nms_iou=float(self.settings.get("nms_iou", 0.3)),
            min_face_px=float(self.settings.get("min_face_px", 20.0)),
            max_upscale=float(self.settings.get("max_upscale", 2.0)),
            max_level_pixels=int(self.settings.get("max_level_pixels", 16_000_000)),
            tile_batch=int(self.settings.get("tile_batch_gpu" if on_gpu else "tile_batch", 64 if on_gpu else 1)),
            max_faces=int(self.settings.get("max_faces", 1000)),
            memory_format=self.memory_format,
            **detector_cut(self.settings, on_gpu),
        )
        self.embed_batch = int(self.settings.get("embed_batch", 64))
        self.embed_pad = max(1, int(self.settings.get("embed_pad_gpu" if on_gpu else "embed_pad", 8 if on_gpu else 1)))
        self._lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=device)[None, None]

    def analyse(self, images: Sequence[Any]) -> list[list[Face]]:
        """All faces of every image (RGB uint8 HWC arrays or CHW tensors), ordered by detector score."""
        with self._lock, self._autocast():
            tensors = [to_tensor(img, self.device) for img in images]
            detections = self.detector.detect(tensors, cpu_sources(images, self.device))
            crops, owners = [], []
            for idx, (tensor, dets) in enumerate(zip(tensors, detections, strict=True)):
                if len(dets):
                    crops.append(warp_faces(tensor, similarity_transforms(dets.landmarks)))
                    owners.extend((idx, j) for j in range(len(dets)))
            results: list[list[Face]] = [[] for _ in images]
            if not crops:
                return results
            vectors, blur = self.embed_crops(crops)
            for (idx, j), vec, bv in zip(owners, vectors, blur, strict=True):
                dets = detections[idx]
                quality, q, ok = assess(
                    dets.boxes[j], dets.landmarks[j], float(dets.scores[j]), float(bv), self.settings
                )
                x1, y1, x2, y2 = (float(v) for v in dets.boxes[j])
                results[idx].append(
                    Face(
                        box=(x1, y1, x2, y2),
                        det_score=float(dets.scores[j]),
                        landmarks=dets.landmarks[j].astype(np.float32),
                        vector=vec,
                        quality=quality,
                        quality_score=q,
                        enrol_ok=ok,
                    )
                )
            return results

    def _autocast(self) -> Any:
        """Reduced precision on a GPU when ``gpu_dtype`` asks for it; a no-op context otherwise."""
        import contextlib

        import torch

        if self.autocast_dtype is None or self.autocast_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.autocast_dtype)

    def embed_crops(self, crops: list[Any]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Aligned RGB crops (n, 3, 112, 112) -> L2-normalised SFace vectors and blur measures."""
        import torch
        import torch.nn.functional as F

        allc = torch.cat(crops)
        vecs, blurs = [], []
        with torch.inference_mode():
            for start in range(0, allc.shape[0], self.embed_batch):
                batch = allc[start : start + self.embed_batch]
                n = batch.shape[0]
                padded = F.pad(batch, (0, 0, 0, 0, 0, 0, 0, (-n) % self.embed_pad))
                emb = self.sface(padded.contiguous(memory_format=self.memory_format))[:n]
                vecs.append(F.normalize(emb.float(), dim=1).cpu())
                with torch.autocast(torch.device(self.device).type, enabled=False):  # variances overflow fp16
                    batch = batch.float()
                    gray = (0.299 * batch[:, 0] + 0.587 * batch[:, 1] + 0.114 * batch[:, 2])[:, None, 15:-15, 15:-15]
                    lap = F.conv2d(gray, self._lap)
                    blurs.append(lap.flatten(1).var(dim=1, unbiased=False).cpu())
        return torch.cat(vecs).numpy().astype(np.float32), torch.cat(blurs).numpy().astype(np.float32)
