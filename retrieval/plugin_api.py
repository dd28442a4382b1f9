"""The public, versioned contract between mmsec and its model plugins.

This module MUST NOT import Django: plugins are plain Python packages that a
third party can build and test without running mmsec. Everything a plugin may
rely on is exported here (``__all__``); anything else in ``retrieval`` is
internal and may change without notice.

Public surface
--------------
- ``API_VERSION`` / ``SUPPORTED_API_VERSIONS``: the contract version a plugin targets.
- ``MediaKind``, ``Distance``: enums used in declarations.
- ``EmbeddingSpec``, ``ModelArtifact``: what a plugin declares.
- ``Item``: one unit of work handed to ``process`` (an image, a video frame or an audio file).
- ``Region``, ``Finding``, ``ItemResult``: what ``process`` returns.
- ``PluginError``, ``TransientPluginError``: how ``process``/``load`` report failure.
- ``Plugin``: the runtime-checkable Protocol every plugin class satisfies.
- ``read_image``, ``iter_audio``, ``read_audio``: safe decoders plugins should use
  instead of opening evidence themselves (size limits, EXIF rotation, streaming);
  ``AudioReadReport``: pass one to ``iter_audio`` and return its ``warnings()`` in
  ``ItemResult.warnings`` (truncated or damaged recordings are then reported, not silent).
- ``sha256_file``: streamed SHA-256 of a file, to check native libraries or weights at load.

Registering a plugin: expose the class under the entry-point group
``mmsec.plugins`` with the entry-point name equal to ``Plugin.name``::

    [project.entry-points."mmsec.plugins"]
    image_phash = "mmsec_image_phash:ImagePhashPlugin"
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from retrieval.media_io import AudioReadReport, DecodeError, iter_audio, read_audio, read_image
from retrieval.weights import sha256_file

__all__ = [
    "API_VERSION",
    "SUPPORTED_API_VERSIONS",
    "MediaKind",
    "Distance",
    "EmbeddingSpec",
    "ModelArtifact",
    "Item",
    "Region",
    "Finding",
    "ItemResult",
    "PluginError",
    "TransientPluginError",
    "DecodeError",
    "Plugin",
    "read_image",
    "iter_audio",
    "AudioReadReport",
    "read_audio",
    "sha256_file",
]

#: Bump only with a deprecation cycle; mmsec accepts every version in SUPPORTED_API_VERSIONS.
API_VERSION = 1
SUPPORTED_API_VERSIONS: frozenset[int] = frozenset({1})


class MediaKind(enum.StrEnum):
    """Kinds of work item a plugin can accept.

    Videos are never handed to plugins whole: mmsec samples frames (``IMAGE``
    items with ``time_s``) and extracts the audio track (an ``AUDIO`` item), so
    an image or audio plugin runs on video with correct timestamps for free.
    """

    IMAGE = "image"
    AUDIO = "audio"


class Distance(enum.StrEnum):
    """Distance used to compare vectors of one embedding space (pgvector operator)."""

    COSINE = "cosine"
    L2 = "l2"
    INNER_PRODUCT = "ip"


@dataclass(frozen=True, slots=True)
class EmbeddingSpec:
    """One vector space a plugin writes to.

    Attributes:
        name: short key, unique within the plugin (e.g. ``"face"``); findings refer to it.
        dim: vector length, 1..2000 (pgvector HNSW limit for ``vector``).
        distance: how vectors are compared.
        hnsw_m, hnsw_ef_construction: HNSW build parameters a new space of this spec starts with.
        ef_search_min: the space's smallest ``hnsw.ef_search`` (None: the ``MMSEC_SEARCH_EF_MIN`` setting).
            Clustered data (many photos of few people) needs a denser graph and a wider search than the
            defaults for the same recall; the values a plugin sets here come from bench/vector_search.py.
            Administrators change all three per space (admin: embedding spaces).
    """

    name: str
    dim: int
    distance: Distance = Distance.COSINE
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    ef_search_min: int | None = None


@dataclass(frozen=True, slots=True)
class ModelArtifact:
    """A weights file the plugin needs, verified by SHA-256 before ``load``.

    ``path`` is relative to the plugin's model directory unless absolute. Files
    MUST be data formats that cannot execute code on load (ONNX, safetensors,
    npz, CTranslate2 directories); pickle-based checkpoints are refused.
    """

    name: str
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class Item:
    """One unit of work.

    Attributes:
        media_id: the evidence item this work belongs to.
        kind: ``IMAGE`` or ``AUDIO``.
        path: local, read-only file to read with ``read_image``/``iter_audio``.
        time_s: for a video frame, its time in the video (seconds); ``None`` otherwise.
        frame_index: for a video frame, its index among the sampled frames.
        mime: the sniffed MIME type of ``path``.
        dpi: the resolution (dots per inch) an investigator gave for this item, e.g. a fingerprint scan
            whose file metadata is missing or wrong; ``None`` = not given (use the file's or estimate it).
            Added in API version 1 without a bump: it defaults to ``None``, so older plugins ignore it.
    """

    media_id: int
    kind: MediaKind
    path: Path
    time_s: float | None = None
    frame_index: int | None = None
    mime: str = ""
    dpi: float | None = None


@dataclass(frozen=True, slots=True)
class Region:
    """Where in the item a finding is: a time span, a box, or both.

    Boxes are in pixels of the (EXIF-rotated) image: ``(x1, y1, x2, y2)``.
    """

    start_s: float | None = None
    end_s: float | None = None
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact a plugin found in an item.

    A finding may carry a vector (``space`` names an ``EmbeddingSpec``), a label
    with a score, text, or several of these; ``data`` holds small JSON-safe
    extras (landmarks, language, translation engine...).
    """

    space: str | None = None
    vector: NDArray[np.float32] | None = None
    region: Region | None = None
    label: str | None = None
    score: float | None = None
    text: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The result for one ``Item``; ``error`` set means this item failed permanently.

    ``warnings``: the item was analysed, but not all of it (e.g. a truncated recording decoded only in part):
    one sentence each for the user; the platform shows them with the job instead of a silent partial result.
    """

    media_id: int
    findings: Sequence[Finding] = ()
    error: str | None = None
    time_s: float | None = None
    warnings: Sequence[str] = ()


class PluginError(Exception):
    """Permanent failure: the work MUST NOT be retried."""


class TransientPluginError(PluginError):
    """Retryable failure of a whole batch (e.g. CUDA out of memory)."""


@runtime_checkable
class Plugin(Protocol):
    """Contract for every mmsec plugin (key words per RFC 2119).

    Class attributes identify the plugin without instantiating it:

    - ``name`` MUST equal the entry-point name and match ``^[a-z][a-z0-9_]*$``.
    - ``version`` is the code version (semver).
    - ``model_version`` identifies the vector spaces: changing it (new weights,
      new preprocessing) creates new embedding spaces and requires reprocessing.
    - ``api_version`` is the ``API_VERSION`` targeted.
    - ``media_kinds`` lists the ``MediaKind`` values ``process`` accepts.
    - ``embeddings`` declares the vector spaces written (may be empty).
    - ``artifacts`` lists weight files verified by SHA-256 before ``load``.
    - ``max_batch_size`` bounds how many items one ``process`` call receives.
    - ``default_settings`` are the tunables an administrator may override (JSON types only).

    Optional: ``contract_sample(directory, kind) -> Path`` (classmethod) writes a valid input file for
    the contract test kit when a generic image or tone is not valid input for the plugin.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    model_version: ClassVar[str]
    api_version: ClassVar[int]
    media_kinds: ClassVar[frozenset[MediaKind]]
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]]
    artifacts: ClassVar[tuple[ModelArtifact, ...]]
    max_batch_size: ClassVar[int]
    default_settings: ClassVar[Mapping[str, Any]]

    def __init__(self, settings: Mapping[str, Any], model_dir: Path | None = None) -> None:
        """Store settings; MUST NOT load weights or touch a GPU (runs in the web process)."""

    def load(self, device: str) -> None:
        """Load weights onto ``device`` (``"cpu"`` or ``"cuda"``). MUST be idempotent."""

    def process(self, batch: Sequence[Item]) -> list[ItemResult]:
        """Return exactly one ``ItemResult`` per input, in order. MUST NOT touch the database.

        A bad item gets ``ItemResult(error=...)``; the rest of the batch continues.
        Raise ``TransientPluginError`` for retryable failures of the whole batch.
        """

