"""``face`` plugin: YuNet detection + SFace 128-d embeddings, one finding per face.

Importable by the web process: no torch/onnx import at module level; weights
are loaded in ``load`` on the worker.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from plugins.face.install_models import FILES
from plugins.face.quality import QUALITY_DEFAULTS
from retrieval.plugin_api import (
    API_VERSION,
    DecodeError,
    Distance,
    EmbeddingSpec,
    Finding,
    Item,
    ItemResult,
    MediaKind,
    ModelArtifact,
    PluginError,
    Region,
    TransientPluginError,
    read_image,
)

#: Calibrated on the dev corpus by ``bench/face.py`` (see README.md, "Operating threshold"):
#: cosine similarity at or above this is a match; below it the answer is "unknown".
MATCH_THRESHOLD = 0.49

#: The face space, with the index parameters a new space starts with. Face vectors form tight clusters (many
#: photos of few people): with pgvector's defaults (m 16, ef_construction 64, ef_search 100) recall@10 was 0.906
#: unfiltered at 1M x 128 face-like vectors; with these, 1.000 unfiltered and 0.989 at a 50 % case filter, p95
#: 29-30 ms (selective filters take the exact path: 1.000) (bench/vector_search.py, docs/benchmarks/vector_search.md).
FACE_SPACE = EmbeddingSpec("face", 128, Distance.COSINE, hnsw_m=32, hnsw_ef_construction=128, ef_search_min=400)


def default_model_dir(name: str) -> Path:
    """Where tests and tools look for weights when the platform passes none."""
    return Path(os.environ.get("MMSEC_MODEL_DIR", "var/models")) / name


def is_oom(exc: BaseException) -> bool:
    """CUDA/CPU allocation failures are worth a retry of the whole batch."""
    return "out of memory" in str(exc).lower() or exc.__class__.__name__ == "OutOfMemoryError"


def fit_side(rgb: NDArray[np.uint8], max_side: int) -> tuple[NDArray[np.uint8], float]:
    """Downsize very large images for analysis; returns (pixels, analysed/original scale)."""
    height, width = rgb.shape[:2]
    if max_side <= 0 or max(height, width) <= max_side:
        return rgb, 1.0
    from PIL import Image

    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)), scale


def face_findings(faces: Sequence[Any], scale: float = 1.0, space: str = "face") -> list[Finding]:
    """One finding per face: box (original pixels), detector score, unit vector, landmarks and quality."""
    findings = []
    for face in faces:
        findings.append(
            Finding(
                space=space,
                vector=np.asarray(face.vector, dtype=np.float32),
                region=Region(box=tuple(round(float(v) / scale, 2) for v in face.box)),
                score=round(float(face.det_score), 4),
                data={
                    "landmarks": [[round(float(x) / scale, 2), round(float(y) / scale, 2)] for x, y in face.landmarks],
                    "quality": dict(face.quality),
                    "quality_score": float(face.quality_score),
                    "enrol_ok": bool(face.enrol_ok),
                },
            )
        )
    return findings


class FacePlugin:
    """Every face in an image (or sampled video frame): box, landmarks, quality, SFace vector."""

    name: ClassVar[str] = "face"
    version: ClassVar[str] = "0.1.0"
    model_version: ClassVar[str] = "yunet-2023mar+sface-2021dec.1"
    api_version: ClassVar[int] = API_VERSION
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE})
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = (FACE_SPACE,)
    artifacts: ClassVar[tuple[ModelArtifact, ...]] = (
        ModelArtifact("yunet", "face_detection_yunet_2023mar.onnx", FILES["face_detection_yunet_2023mar.onnx"][1]),
        ModelArtifact("sface", "face_recognition_sface_2021dec.onnx", FILES["face_recognition_sface_2021dec.onnx"][1]),
    )
    max_batch_size: ClassVar[int] = 128  # GPU workers; the admin default batch is 8
    default_settings: ClassVar[Mapping[str, Any]] = {
        "match_threshold": MATCH_THRESHOLD,
        "score_threshold": 0.6,
        "nms_iou": 0.3,
        "min_face_px": 20.0,
        "max_upscale": 2.0,
        "max_level_pixels": 16_000_000,
        "max_faces": 1000,
        "max_side": 4096,
        "cpu_tile": 1280,  # CPU: levels cut into balanced tiles of up to this side (GPU: fixed 640-px tiles)
        "tile_batch": 1,  # CPU: one tile per forward (a 1280-px tile's activations are ~100 MB already)
        "tile_batch_gpu": 64,
        "embed_batch": 64,
        "embed_pad": 1,  # CPU: SFace runs the real faces only (a padded row costs as much as a face)
        "embed_pad_gpu": 8,  # GPU: batches padded to a multiple of 8, few shapes for the cuDNN autotuner
        "decode_threads": 0,  # 0: min(8, CPU count)
        "analysis_batch": 64,  # images per detector/embedder pass; decoding runs ahead
        "cudnn_benchmark": True,  # GPU workers: autotuned convolutions
        "jpeg_decode": "auto",  # auto | host | torchvision | device: see FacePlugin._jpeg_mode
        **QUALITY_DEFAULTS,
    }

    def __init__(self, settings: Mapping[str, Any], model_dir: Path | None = None) -> None:
        self.settings = {**self.default_settings, **(settings or {})}
        self.model_dir = Path(model_dir) if model_dir else default_model_dir(self.name)
        self.device: str | None = None
        self._engine: Any = None
        self._decoder: Any = None  # thread pool, created on the first multi-image batch
        self._lock = threading.Lock()

    def load(self, device: str) -> None:
        with self._lock:
            if self._engine is not None and self.device == device:
                return
            missing = [a.path for a in self.artifacts if not (self.model_dir / a.path).is_file()]
            if missing:
                raise PluginError(
                    f"{self.name} model files missing in {self.model_dir}: {', '.join(missing)} "
                    f"(run: python -m plugins.{self.name}.install_models {self.model_dir})"
                )
            self._engine = self._make_engine(device)
            self.device = device

    def _make_engine(self, device: str) -> Any:
        from plugins.face.model import FaceEngine

        return FaceEngine(self.model_dir, device, self.settings)

    def process(self, batch: Sequence[Item]) -> list[ItemResult]:
        if self._engine is None:
            self.load("cpu")
        results: list[ItemResult | None] = [None] * len(batch)
        wanted = []
        for i, item in enumerate(batch):
            if item.kind != MediaKind.IMAGE:
                results[i] = ItemResult(item.media_id, error=f"{self.name} plugin does not accept {item.kind} items")
            else:
                wanted.append(i)
        # Decoding runs ahead on the thread pool while earlier images are analysed.
        chunk = max(1, int(self.settings.get("analysis_batch") or 64))
        pending: list[tuple[int, tuple[Any, float]]] = []

        def analyse_pending() -> None:
            analysed = self._analyse([pixels for _, (pixels, _) in pending])
            for (i, (_, scale)), faces in zip(pending, analysed, strict=True):
                item = batch[i]
                if isinstance(faces, str):
                    results[i] = ItemResult(item.media_id, error=faces, time_s=item.time_s)
                else:
                    results[i] = ItemResult(item.media_id, findings=face_findings(faces, scale), time_s=item.time_s)
            pending.clear()

        def add(i: int, decoded: tuple[Any, float] | str) -> None:
            if isinstance(decoded, str):
                results[i] = ItemResult(batch[i].media_id, error=decoded, time_s=batch[i].time_s)
                return
            pending.append((i, decoded))
            if len(pending) >= chunk:
                analyse_pending()

        mode = self._jpeg_mode()
        if mode == "device":
            on_device, on_host = self._split_decoding(batch, wanted)
        else:
            on_device, on_host = [], wanted
        reader = self._read_jpeg_fast if mode == "torchvision" else self._read
        host_decoded = zip(on_host, self._map(reader, [batch[i] for i in on_host]), strict=True)  # starts the pool
        if on_device:
            from plugins.face.device_jpeg import decode_on_device

            for start in range(0, len(on_device), chunk):
                part = on_device[start : start + chunk]
                for (i, _), tensor in zip(part, decode_on_device([blob for _, blob in part], self.device), strict=True):
                    add(i, (tensor, 1.0) if tensor is not None else self._read(batch[i]))
        for i, decoded in host_decoded:
            add(i, decoded)
        analyse_pending()
        return [r for r in results if r is not None]

    def _jpeg_mode(self) -> str:
        """How plain JPEGs are decoded: ``host`` (Pillow), ``torchvision`` (libjpeg-turbo on the host threads,
        no Pillow copies) or ``device`` (nvJPEG on the GPU). ``auto``: torchvision on a GPU worker, else Pillow.
        Anything that is not a plain JPEG, or that a fast decoder refuses, goes through Pillow."""
        mode = str(self.settings.get("jpeg_decode") or "auto")
        if not getattr(self._engine, "accepts_tensors", False):
            return "host"
        if mode == "auto":
            return "torchvision" if str(self.device or "").startswith("cuda") else "host"
        return mode

    def _split_decoding(self, batch: Sequence[Item], wanted: list[int]) -> tuple[list[tuple[int, bytes]], list[int]]:
        """Which images the GPU decodes (plain JPEGs: their bytes) and which the host decodes."""
        from plugins.face.device_jpeg import device_decodable

        max_side = int(self.settings["max_side"])
        on_device, on_host = [], []
        for i, blob in zip(
            wanted,
            self._map(lambda item: device_decodable(item.path, max_side), [batch[i] for i in wanted]),
            strict=True,
        ):
            if blob is None:
                on_host.append(i)
            else:
                on_device.append((i, blob))
        return on_device, on_host

    def _read(self, item: Item) -> tuple[NDArray[np.uint8], float] | str:
        """(pixels fitted to ``max_side``, scale), or the error text that item gets."""
        try:
            return fit_side(read_image(item.path), int(self.settings["max_side"]))
        except DecodeError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
            return f"cannot read image ({exc.__class__.__name__})"

    def _read_jpeg_fast(self, item: Item) -> tuple[Any, float] | str:
        """A plain JPEG through torchvision's decoder (a CHW tensor); anything else through ``_read``."""
        from plugins.face.device_jpeg import decode_on_device, device_decodable

        blob = device_decodable(item.path, int(self.settings["max_side"]))
        tensor = decode_on_device([blob], "cpu")[0] if blob is not None else None
        return (tensor, 1.0) if tensor is not None else self._read(item)

    def _map(self, fn: Callable[[Item], Any], items: list[Item]) -> Iterator[Any]:
        """``fn`` over ``items`` on several threads, in order, lazily (all submitted at once).

        On a GPU worker one thread cannot decode images as fast as the device analyses them; the decoders
        release the GIL while they work.
        """
        threads = int(self.settings.get("decode_threads") or 0) or min(8, os.cpu_count() or 1)
        if len(items) < 2 or threads < 2:
            return (fn(item) for item in items)
        with self._lock:
            if self._decoder is None:
                from concurrent.futures import ThreadPoolExecutor

                self._decoder = ThreadPoolExecutor(threads, thread_name_prefix=f"{self.name}-decode")
        return self._decoder.map(fn, items)

    def _analyse(self, images: list[Any]) -> list[Any]:
        """Whole batch at once; on an unexpected failure, item by item so only the culprit fails."""
        if not images:
            return []
        try:
            return list(self._engine.analyse(images))
        except Exception as exc:  # noqa: BLE001
            if is_oom(exc):
                raise TransientPluginError(f"{self.name}: out of memory on {self.device}") from exc
            if len(images) == 1:
                return [f"{self.name} analysis failed ({exc.__class__.__name__}: {exc})"]
        return [self._analyse([img])[0] for img in images]
