"""A small but real test plugin: colour histograms for images, band energies for audio.

Registered in worker processes with ``MMSEC_EXTRA_PLUGINS=histogram=tests.fakes:HistogramPlugin``.
``sleep_s`` slows each item down so tests can kill a worker in the middle of a batch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from retrieval.plugin_api import (
    API_VERSION,
    DecodeError,
    Distance,
    EmbeddingSpec,
    Finding,
    Item,
    ItemResult,
    MediaKind,
    Region,
    read_audio,
    read_image,
)


class HistogramPlugin:
    """Colour histogram (images) / band energies (audio) as 16-d unit vectors."""

    name: ClassVar[str] = "histogram"
    version: ClassVar[str] = "0.1.0"
    model_version: ClassVar[str] = "hist16-v1"
    api_version: ClassVar[int] = API_VERSION
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE, MediaKind.AUDIO})
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = (EmbeddingSpec("hist", 16, Distance.COSINE),)
    artifacts: ClassVar[tuple] = ()
    max_batch_size: ClassVar[int] = 16
    default_settings: ClassVar[Mapping[str, Any]] = {"sleep_s": 0.0}

    def __init__(self, settings: Mapping[str, Any], model_dir: Path | None = None) -> None:
        self.settings = dict(settings)

    def load(self, device: str) -> None:
        self.device = device

    def process(self, batch: Sequence[Item]) -> list[ItemResult]:
        out = []
        for item in batch:
            time.sleep(float(self.settings.get("sleep_s", 0.0)))
            try:
                if item.kind == MediaKind.IMAGE:
                    rgb = read_image(item.path, max_side=256)
                    vec = np.concatenate([np.histogram(rgb[..., c], bins=5, range=(0, 256))[0] for c in range(3)]
                                         + [np.array([rgb.mean()])])
                    region = None
                else:
                    audio = read_audio(item.path, sample_rate=8000, max_s=60)
                    spectrum = np.abs(np.fft.rfft(audio))
                    vec = np.array([band.sum() for band in np.array_split(spectrum, 16)])
                    region = Region(start_s=0.0, end_s=audio.size / 8000)
            except DecodeError as exc:
                out.append(ItemResult(media_id=item.media_id, error=str(exc)))
                continue
            vec = vec.astype(np.float32) + 1e-3
            vec /= np.linalg.norm(vec)
            out.append(ItemResult(media_id=item.media_id,
                                  findings=[Finding(space="hist", vector=vec, label="histogram", region=region)]))
        return out


class BrokenDeclarationPlugin(HistogramPlugin):
    """Declares an impossible embedding dimension: discovery must skip it with a reason."""

    name: ClassVar[str] = "broken_decl"
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = (EmbeddingSpec("x", 5000, Distance.COSINE),)


class HistogramV2Plugin(HistogramPlugin):
    """Same plugin under a new model version (a new embedding space)."""

    model_version: ClassVar[str] = "hist16-v2"
