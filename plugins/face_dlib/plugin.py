"""``face_dlib`` plugin: the second face model version (dlib ResNet 128-d), selectable in model management.

Same findings as ``face`` (box, landmarks, quality, detector score) from the same
YuNet detector; only the vector space differs, so it is a separate space and a
case embedded with one model is searched with that model only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from plugins.face.install_models import FILES as FACE_FILES
from plugins.face.plugin import FACE_SPACE, FacePlugin
from plugins.face_dlib.install_models import FILES, YUNET
from retrieval.plugin_api import EmbeddingSpec, ModelArtifact

#: Calibrated on the dev corpus by ``bench/face.py`` (cosine of normalised dlib descriptors).
MATCH_THRESHOLD = 0.928


class FaceDlibPlugin(FacePlugin):
    """Every face in an image: YuNet box/landmarks/quality, dlib ResNet vector (CPU embedding)."""

    name: ClassVar[str] = "face_dlib"
    version: ClassVar[str] = "0.1.0"
    model_version: ClassVar[str] = "yunet-2023mar+dlib-resnet-v1.1"
    embeddings: ClassVar[tuple[EmbeddingSpec, ...]] = (FACE_SPACE,)
    artifacts: ClassVar[tuple[ModelArtifact, ...]] = (
        ModelArtifact("yunet", YUNET, FACE_FILES[YUNET][1]),
        ModelArtifact("shape_predictor_5", "shape_predictor_5_face_landmarks.dat",
                      FILES["shape_predictor_5_face_landmarks.dat"][1]),
        ModelArtifact("dlib_resnet", "dlib_face_recognition_resnet_model_v1.dat",
                      FILES["dlib_face_recognition_resnet_model_v1.dat"][1]),
    )
    max_batch_size: ClassVar[int] = 16
    default_settings: ClassVar[Mapping[str, Any]] = {
        **FacePlugin.default_settings,
        "match_threshold": MATCH_THRESHOLD,
    }

    def _make_engine(self, device: str) -> Any:
        from plugins.face_dlib.model import DlibFaceEngine

        return DlibFaceEngine(self.model_dir, device, self.settings)
