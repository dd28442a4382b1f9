"""Fast JPEG decoding through torchvision: nvJPEG on the GPU, or libjpeg-turbo on the host's threads.

A GPU analyses 640-px images faster than a handful of host threads decode them with Pillow (measured on an
H100: Pillow ~550-730 images/s on 8 threads, torchvision ~2,760, the GPU analysis 620-750; see
docs/benchmarks/gpu.md). Only plain files take this path: a JPEG in RGB or grey, no EXIF rotation, within the
pixel and side limits, ending with its end-of-image marker (so a truncated file still gets Pillow's clear
error). Everything else, and any file these decoders refuse, goes through ``retrieval.media_io.read_image``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from retrieval.media_io import MAX_IMAGE_PIXELS, exif_orientation

JPEG_START = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"


def device_decodable(path: Path, max_side: int) -> bytes | None:
    """The file's bytes when the device decoder may take it as it is, else None."""
    from PIL import Image

    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(JPEG_START) or not data.rstrip(b"\x00").endswith(JPEG_END):
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:  # header only: no pixels decoded
            width, height = img.size
            if img.format != "JPEG" or img.mode not in ("RGB", "L"):
                return None
            if width * height > MAX_IMAGE_PIXELS or (max_side > 0 and max(width, height) > max_side):
                return None
            if exif_orientation(img) != 1:
                return None
    except Exception:  # noqa: BLE001 - anything odd goes the Pillow way, which reports it properly
        return None
    return data


def decode_on_device(blobs: list[bytes], device: str) -> list[Any]:
    """JPEG bytes -> uint8 RGB tensors (3, H, W) on ``device``; None where the decoder failed."""
    import torch
    from torchvision.io import ImageReadMode, decode_jpeg

    tensors = [torch.frombuffer(bytearray(blob), dtype=torch.uint8) for blob in blobs]
    if not tensors:
        return []
    try:
        return list(decode_jpeg(tensors, mode=ImageReadMode.RGB, device=device))
    except Exception:  # noqa: BLE001 - one bad file fails the batched call: retry one by one
        out: list[Any] = []
        for tensor in tensors:
            try:
                out.append(decode_jpeg(tensor, mode=ImageReadMode.RGB, device=device))
            except Exception:  # noqa: BLE001
                out.append(None)
        return out
