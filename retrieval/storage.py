"""Content-addressed evidence store on the local filesystem.

Originals live at ``<root>/objects/ab/cd/<sha256>``: written once through a temp
file, fsync and rename (atomic on one filesystem), then made read-only. Nothing
ever rewrites them; the integrity check re-hashes them. Derived files
(previews, extracted audio, frames) live under ``<root>/derived/<media id>/``
and can always be rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

CHUNK = 1024 * 1024


def root() -> Path:
    return Path(settings.MMSEC_STORAGE_DIR)


def tmp_dir() -> Path:
    path = root() / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def object_path(sha256: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return root() / "objects" / sha256[:2] / sha256[2:4] / sha256


def derived_dir(media_id: int) -> Path:
    path = root() / "derived" / str(int(media_id))
    path.mkdir(parents=True, exist_ok=True)
    return path


def preview_path(media_id: int) -> Path:
    return root() / "derived" / str(int(media_id)) / "preview.png"


def write_chunk(fh: Any, data: bytes) -> None:
    """Append upload bytes to a temp file. Every evidence byte goes through here, so a full disk
    (``OSError`` ENOSPC/EDQUOT) surfaces in one place; the tests inject that fault here."""
    fh.write(data)


def new_temp_file() -> tuple[int, Path]:
    """An exclusive temp file in the store's own filesystem (so the final rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=tmp_dir())
    return fd, Path(name)


def commit_temp_file(temp: Path, sha256: str) -> Path:
    """Move a fully written, fsynced temp file to its content address; drop it if already stored."""
    dest = object_path(sha256)
    if dest.exists():
        temp.unlink(missing_ok=True)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(temp, 0o440)
    os.replace(temp, dest)
    _fsync_dir(dest.parent)
    return dest


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store_stream(chunks: Iterator[bytes], max_bytes: int) -> tuple[str, int, Path]:
    """Stream bytes into the store while hashing; returns (sha256, size, path).

    Raises ``ValueError`` if more than ``max_bytes`` arrive; the partial file is removed.
    """
    fd, temp = new_temp_file()
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"file is larger than the limit of {max_bytes} bytes")
                digest.update(chunk)
                write_chunk(fh, chunk)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    sha = digest.hexdigest()
    return sha, size, commit_temp_file(temp, sha)


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
