"""The plugin class: implements ``retrieval.plugin_api.Plugin``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from mmsec_image_phash.hashing import hash_vector, hex_digest
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
    read_image,
)


class ImagePhashPlugin:
    """Perceptual image hashes: finds re-encoded, resized or slightly edited copies of known images."""

    name: ClassVar[str] = "image_phash"
    version: ClassVar[str] = "1.0.0"
    model_version: ClassVar[str] = "phash64+dhash64-v1"
    api_version: ClassVar[int] = API_VERSION
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE})
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = (EmbeddingSpec("phash", 128, Distance.COSINE),)
    artifacts: ClassVar[tuple[ModelArtifact, ...]] = ()
    max_batch_size: ClassVar[int] = 64
    default_settings: ClassVar[Mapping[str, Any]] = {"match_threshold": 0.8, "max_side": 1024}

    def __init__(self, settings: Mapping[str, Any], model_dir: Path | None = None) -> None:
        self.settings = dict(settings)
        self.loaded = False

    def load(self, device: str) -> None:
        self.loaded = True  # no weights: hashing is pure numpy

    def process(self, batch: Sequence[Item]) -> list[ItemResult]:
        results = []
        for item in batch:
            try:
                rgb = read_image(item.path, max_side=int(self.settings.get("max_side", 1024)))
            except DecodeError as exc:
                results.append(ItemResult(media_id=item.media_id, error=str(exc)))
                continue
            vector = hash_vector(rgb)
            results.append(ItemResult(media_id=item.media_id, findings=[
                Finding(space="phash", vector=vector, label="phash", data={"hash": hex_digest(vector)}),
            ]))
        return results
