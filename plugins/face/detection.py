"""YuNet face detection on a tiled pyramid, batched in torch (worker only).

Decoding follows OpenCV's ``FaceDetectorYN`` for the 2023mar model: per anchor
cell, score = sqrt(clamp(cls) * clamp(obj)), box centre = (cell + offset) *
stride, size = exp(log-size) * stride, landmarks = (cell + offset) * stride.
The ONNX graph expects BGR, 0..255, zero-padded on the bottom/right to a multiple
of 32; ``rgb_input`` swaps the first convolution's input channels so RGB tensors
go in as they are (no per-image channel flip).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plugins.face.pyramid import Tile, keep_in_tile, plan_scales, plan_tiles

STRIDES = (8, 16, 32)


@dataclass(slots=True)
class Detections:
    """Faces found in one image, in its pixel coordinates."""

    boxes: NDArray[np.float32]  # (n, 4) x1, y1, x2, y2
    scores: NDArray[np.float32]  # (n,)
    landmarks: NDArray[np.float32]  # (n, 5, 2): right eye, left eye, nose tip, right/left mouth corner

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def take(self, index: NDArray[np.int64]) -> Detections:
        return Detections(self.boxes[index], self.scores[index], self.landmarks[index])


def nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], iou: float) -> NDArray[np.int64]:
    """Greedy non-maximum suppression; returns kept indices by decreasing score."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        ious = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[ious <= iou]
    return np.asarray(keep, dtype=np.int64)


def decode(outputs: list[Any], pad_h: int, pad_w: int, threshold: float) -> tuple[Any, Any, Any, Any]:
    """YuNet head outputs for a batch of equal-size inputs -> the anchors above ``threshold``.

    Returns ``(batch_index, boxes, scores, landmarks)`` tensors for the whole batch: selecting per
    input would cost a device synchronisation per input, which dominates on a GPU.
    """
    import torch

    per_stride = []
    for k, stride in enumerate(STRIDES):
        cls, obj, bbox, kps = outputs[k], outputs[k + 3], outputs[k + 6], outputs[k + 9]
        rows, cols = pad_h // stride, pad_w // stride
        ys, xs = torch.meshgrid(
            torch.arange(rows, device=cls.device, dtype=cls.dtype),
            torch.arange(cols, device=cls.device, dtype=cls.dtype),
            indexing="ij",
        )
        cell = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)  # (A, 2)
        score = torch.sqrt(cls[..., 0].clamp(0, 1) * obj[..., 0].clamp(0, 1))  # (B, A)
        centre = (cell + bbox[..., :2]) * stride
        size = torch.exp(bbox[..., 2:4]) * stride
        boxes = torch.cat([centre - size / 2, centre + size / 2], dim=-1)
        marks = (kps.reshape(kps.shape[0], -1, 5, 2) + cell[None, :, None, :]) * stride
        per_stride.append((boxes, score, marks))
    boxes = torch.cat([p[0] for p in per_stride], dim=1)
    scores = torch.cat([p[1] for p in per_stride], dim=1)
    marks = torch.cat([p[2] for p in per_stride], dim=1)
    index, anchor = torch.nonzero(scores >= threshold, as_tuple=True)
    return index, boxes[index, anchor], scores[index, anchor], marks[index, anchor]


def rgb_input(module: Any) -> Any:
    """Make the converted YuNet accept RGB by reversing its first convolution's input channels."""
    import torch

    for node in module.graph.nodes:
        if node.op == "call_module":
            first = module.get_submodule(node.target)
            if isinstance(first, torch.nn.Conv2d) and first.in_channels == 3:
                with torch.no_grad():
                    first.weight.copy_(first.weight.flip(1))
                return module
            break
    raise ValueError("YuNet graph does not start with a 3-channel convolution")


def resize_tensor(rgb: Any, height: int, width: int) -> Any:
    """(1, 3, H, W) float -> (1, 3, height, width): area averaging to shrink (anti-aliased, much cheaper than
    bilinear + antialias), bilinear to enlarge. Works on any device."""
    import torch.nn.functional as F

    if height < rgb.shape[2]:
        return F.interpolate(rgb, size=(height, width), mode="area")
    return F.interpolate(rgb, size=(height, width), mode="bilinear", align_corners=False)


def resize_uint8(source: NDArray[np.uint8], height: int, width: int) -> Any:
    """HWC uint8 RGB -> (1, 3, height, width) float32 tensor (channels-last strides), resized by Pillow in bytes.

    The CPU path. Pillow's box filter (area average, to shrink) and bilinear filter (to enlarge) run on bytes:
    shrinking a 3-megapixel photo takes ~6-10 ms there against 37-55 ms for torch's area kernel on a 3-channel
    channels-last float tensor, and only the smaller level is converted to float.
    """
    import torch
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(source))
    method = Image.Resampling.BOX if height < source.shape[0] else Image.Resampling.BILINEAR
    pixels = np.array(image.resize((width, height), method))  # writable: torch.from_numpy warns on read-only
    return torch.from_numpy(pixels).permute(2, 0, 1)[None].float()


class YuNetDetector:
    """Runs the converted YuNet graph over pyramids of many images at once."""

    def __init__(
        self,
        module: Any,
        device: str,
        score_threshold: float = 0.6,
        nms_iou: float = 0.3,
        tile: int = 640,
        overlap: int = 128,
        min_face_px: float = 20.0,
        native_min_face: float = 20.0,
        max_upscale: float = 2.0,
        max_level_pixels: int = 16_000_000,
        tile_batch: int = 4,
        max_faces: int = 1000,
        memory_format: Any = None,
        cut: int | None = None,
        balanced: bool = False,
    ) -> None:
        self.module = module
        self.device = device
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.tile = tile
        self.overlap = overlap
        self.min_face_px = min_face_px
        self.native_min_face = native_min_face
        self.max_upscale = max_upscale
        self.max_level_pixels = max_level_pixels
        self.tile_batch = tile_batch
        self.max_faces = max_faces
        self.memory_format = memory_format
        self.cut = cut or tile  # levels are cut into tiles of at most this side (``tile`` sets the coarsest level)
        self.balanced = balanced

    def detect(self, images: list[Any], sources: Sequence[Any] | None = None) -> list[Detections]:
        """``images``: float tensors (3, H, W), RGB 0..255 on ``self.device``.

        ``sources``: for CPU inputs, the HWC uint8 arrays the tensors were made from (``None`` entries allowed);
        pyramid levels of those images are resized from the bytes (``resize_uint8``) instead of the float tensor.
        """
        import torch

        jobs: dict[tuple[int, int], list[tuple[int, Tile, Any]]] = defaultdict(list)
        for idx, img in enumerate(images):
            source = sources[idx] if sources is not None else None
            h, w = int(img.shape[1]), int(img.shape[2])
            scales = plan_scales(
                h, w, self.tile, self.min_face_px, self.native_min_face, self.max_upscale, self.max_level_pixels
            )
            tiles = plan_tiles(h, w, scales, self.cut, self.overlap, self.balanced)
            levels: dict[int, Any] = {}
            rgb = img[None]  # the converted YuNet takes RGB: its first conv's input channels are swapped at load
            for t in tiles:
                if t.level not in levels:
                    lh, lw = max(1, round(h * t.scale)), max(1, round(w * t.scale))
                    if (lh, lw) == (h, w):
                        levels[t.level] = rgb
                    elif source is not None:
                        levels[t.level] = resize_uint8(source, lh, lw)
                    else:
                        levels[t.level] = resize_tensor(rgb, lh, lw)
                crop = levels[t.level][:, :, t.y0 : t.y0 + t.height, t.x0 : t.x0 + t.width]
                jobs[(t.pad_height, t.pad_width)].append((idx, t, crop))

        found: list[list[tuple[Any, Any, Any]]] = [[] for _ in images]
        with torch.inference_mode():
            for (ph, pw), items in jobs.items():
                for start in range(0, len(items), self.tile_batch):
                    chunk = items[start : start + self.tile_batch]
                    batch = self._new_batch(len(chunk), ph, pw)
                    for j, (_, t, crop) in enumerate(chunk):
                        batch[j, :, : t.height, : t.width] = crop[0]
                    outs = [out.float() for out in self.module(batch)]
                    sel = decode(outs, ph, pw, self.score_threshold)
                    index = sel[0].cpu().numpy()
                    boxes, scores, marks = (v.cpu().numpy() for v in sel[1:])  # outs are float32 already
                    for j, (idx, t, _) in enumerate(chunk):
                        mine = index == j
                        if mine.any():
                            found[idx].append(self._to_image(t, boxes[mine], scores[mine], marks[mine]))
        return [self._merge(parts) for parts in found]

    def _new_batch(self, n: int, height: int, width: int) -> Any:
        """Zeroed (n, 3, height, width) float32 input, allocated in the detector's memory format.

        Filling it in place avoids a second full-size copy (a layout conversion after filling cost ~0.2 s on a
        3-megapixel photo on a CPU).
        """
        import torch

        if (self.memory_format or torch.channels_last) == torch.channels_last:
            return torch.zeros((n, height, width, 3), device=self.device, dtype=torch.float32).permute(0, 3, 1, 2)
        return torch.zeros((n, 3, height, width), device=self.device, dtype=torch.float32)

    def _to_image(
        self, tile: Tile, b: NDArray[np.float32], s: NDArray[np.float32], m: NDArray[np.float32]
    ) -> tuple[Any, Any, Any]:
        keep = np.array([keep_in_tile(tuple(box), tile) for box in b], dtype=bool)
        b, s, m = b[keep], s[keep], m[keep]
        offset = np.array([tile.x0, tile.y0], np.float32)
        b = (b + np.tile(offset, 2)) / tile.scale
        m = (m + offset) / tile.scale
        return b, s, m

    def _merge(self, parts: list[tuple[Any, Any, Any]]) -> Detections:
        if not parts:
            return Detections.empty()
        dets = Detections(
            np.concatenate([p[0] for p in parts]).astype(np.float32),
            np.concatenate([p[1] for p in parts]).astype(np.float32),
            np.concatenate([p[2] for p in parts]).astype(np.float32),
        )
        if not len(dets):
            return dets
        keep = nms(dets.boxes, dets.scores, self.nms_iou)[: self.max_faces]
        return dets.take(keep)
