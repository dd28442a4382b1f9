"""YuNet detection (torch, shared with the ``face`` plugin) + dlib 5-point landmarks and ResNet embedding.

dlib's own HOG detector misses faces under ~40 px and is single-threaded, so
detection reuses the ``face`` plugin's YuNet pyramid. dlib's shape predictor
needs a box shaped like dlib's detector boxes: it is derived from YuNet's
landmarks (centre between eyes and mouth, side 2.23 x eye-to-mouth distance,
fitted on the dev corpus: descriptor distance to the HOG-box result 0.00-0.09
on 43 of 44 faces, 0.24 on one, against dlib's match distance of 0.6).
The embedding itself runs in dlib (CPU); vectors are L2-normalised for cosine search.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plugins.face.alignment import similarity_transform, warp_faces
from plugins.face.model import Face, cpu_sources, detector_cut, load_yunet, to_tensor
from plugins.face.quality import assess, laplacian_variance

SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
BOX_SCALE = 2.23


def dlib_box(landmarks: NDArray[np.floating]) -> tuple[int, int, int, int]:
    """dlib-style square box (left, top, right, bottom) from YuNet's five points."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eyes = lm[:2].mean(0)
    mouth = lm[3:].mean(0)
    centre = (eyes + mouth) / 2
    half = max(float(np.linalg.norm(mouth - eyes)) * BOX_SCALE / 2, 4.0)
    return (
        int(round(centre[0] - half)),
        int(round(centre[1] - half)),
        int(round(centre[0] + half)),
        int(round(centre[1] + half)),
    )


class DlibFaceEngine:
    """Loaded YuNet (torch) + dlib models; thread-safe ``analyse``."""

    def __init__(self, model_dir: Path, device: str, settings: Mapping[str, Any]) -> None:
        import dlib

        from plugins.face.detection import YuNetDetector

        self.device = device
        self.settings = dict(settings)
        self._lock = threading.Lock()
        self.detector = YuNetDetector(
            load_yunet(model_dir, device),
            device,
            score_threshold=float(self.settings.get("score_threshold", 0.6)),
            nms_iou=float(self.settings.get("nms_iou", 0.3)),
            min_face_px=float(self.settings.get("min_face_px", 20.0)),
            max_upscale=float(self.settings.get("max_upscale", 2.0)),
            max_level_pixels=int(self.settings.get("max_level_pixels", 16_000_000)),
            max_faces=int(self.settings.get("max_faces", 1000)),
            tile_batch=int(self.settings.get("tile_batch", 1)),
            **detector_cut(self.settings, device != "cpu"),
        )
        self._dlib = dlib
        self.shape_predictor = dlib.shape_predictor(str(Path(model_dir) / SHAPE_FILE))
        self.resnet = dlib.face_recognition_model_v1(str(Path(model_dir) / RESNET_FILE))

    def analyse(self, images: Sequence[NDArray[np.uint8]]) -> list[list[Face]]:
        dlib = self._dlib
        with self._lock:
            tensors = [to_tensor(img, self.device) for img in images]
            detections = self.detector.detect(tensors, cpu_sources(images, self.device))
            results: list[list[Face]] = []
            for img, tensor, dets in zip(images, tensors, detections, strict=True):
                if not len(dets):
                    results.append([])
                    continue
                img = np.ascontiguousarray(img)
                shapes = dlib.full_object_detections()
                for lm in dets.landmarks:
                    shapes.append(self.shape_predictor(img, dlib.rectangle(*dlib_box(lm))))
                desc = np.asarray(self.resnet.compute_face_descriptor(img, shapes), dtype=np.float32)
                desc /= np.maximum(np.linalg.norm(desc, axis=1, keepdims=True), 1e-12)
                crops = warp_faces(tensor, np.stack([similarity_transform(lm) for lm in dets.landmarks]))
                gray = (crops[:, 0] * 0.299 + crops[:, 1] * 0.587 + crops[:, 2] * 0.114).cpu().numpy()
                faces = []
                for j in range(len(dets)):
                    blur = laplacian_variance(gray[j, 15:-15, 15:-15])
                    quality, q, ok = assess(
                        dets.boxes[j], dets.landmarks[j], float(dets.scores[j]), blur, self.settings
                    )
                    faces.append(
                        Face(
                            box=tuple(float(v) for v in dets.boxes[j]),  # type: ignore[arg-type]
                            det_score=float(dets.scores[j]),
                            landmarks=dets.landmarks[j].astype(np.float32),
                            vector=desc[j],
                            quality=quality,
                            quality_score=q,
                            enrol_ok=ok,
                        )
                    )
                results.append(faces)
            return results
