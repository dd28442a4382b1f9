"""Coverage-guided fuzzing (atheris) of the decoder entry points in ``retrieval.media_io``.

    .venv/bin/python bench/fuzz_decoders.py [--seconds 120] [--targets sniff,probe_image,...]
        [--out docs/benchmarks/fuzz_decoders]

Runs each target in its own process (``atheris.Fuzz`` exits when done) for ``--seconds``, with
libFuzzer's per-input timeout (20 s) and RSS limit (2 GiB), seeded with small valid files of every
supported format. A target fails when the decoder raises anything but ``DecodeError`` (our contract
with the worker), hangs, exceeds memory or crashes the process. Python code is instrumented; the C
decoders (FFmpeg through PyAV, Pillow's codecs) are exercised but not coverage-instrumented.
Requires ``requirements/bench-reliability.txt`` (atheris). Writes OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = ("sniff", "probe_image", "read_image", "probe_av", "iter_audio", "iter_video_frames")


def _target(name: str, path: Path) -> None:
    from retrieval import media_io

    if name == "sniff":
        media_io.sniff(path)
    elif name == "probe_image":
        media_io.probe_image(path)
    elif name == "read_image":
        media_io.read_image(path, max_side=512)
    elif name == "probe_av":
        media_io.probe_av(path)
    elif name == "iter_audio":
        for i, _ in enumerate(media_io.iter_audio(path, chunk_s=10.0)):
            if i >= 2:
                break
    elif name == "iter_video_frames":
        for i, _ in enumerate(media_io.iter_video_frames(path, every_s=0.5)):
            if i >= 3:
                break


def fuzz_one(name: str, libfuzzer_args: list[str]) -> None:
    """Child mode: fuzz one target until libFuzzer stops (``atheris.Fuzz`` never returns)."""
    import atheris
    import av  # noqa: F401  (third-party modules load uninstrumented, before ours)
    import numpy  # noqa: F401
    from PIL import Image

    Image.init()
    with atheris.instrument_imports(include=["retrieval"]):
        from retrieval import media_io
    fd, tmp = tempfile.mkstemp(prefix=f"fuzz-{name}-")
    os.close(fd)
    path = Path(tmp)

    def test_one(data: bytes) -> None:
        path.write_bytes(data)
        try:
            _target(name, path)
        except media_io.DecodeError:
            pass

    atheris.Setup([sys.argv[0], *libfuzzer_args], test_one)
    atheris.Fuzz()


def _seed_dir(work: Path) -> Path:
    from bench.hostile_corpus import _ext, seeds

    seed_dir = work / "seeds"
    seed_dir.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (seed_dir / f"{name}.{_ext(name)}").write_bytes(data)
    return seed_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--child", default="")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "fuzz_decoders")
    args, rest = parser.parse_known_args(argv)
    if args.child:
        fuzz_one(args.child, rest)
        return 0
    work = Path(tempfile.mkdtemp(prefix="fuzz-decoders-"))
    seeds = _seed_dir(work)
    results = {}
    for name in args.targets.split(","):
        corpus = work / name
        corpus.mkdir()
        artifacts = work / f"{name}-artifacts"
        artifacts.mkdir()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, str(corpus), str(seeds),
               f"-max_total_time={args.seconds}", "-timeout=20", "-rss_limit_mb=2048", "-max_len=65536",
               f"-artifact_prefix={artifacts}/", "-print_final_stats=1"]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.seconds + 300)
        log = proc.stdout + proc.stderr
        execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
        cov = re.findall(r"cov: (\d+)", log)
        crashes = sorted(p.name for p in artifacts.iterdir())
        problem = ""
        if proc.returncode != 0:
            tail = [ln for ln in log.splitlines() if "Error" in ln or "==" in ln or "Exception" in ln]
            problem = " | ".join(tail[-4:])[:600]
        results[name] = {"seconds": round(time.monotonic() - started, 1), "returncode": proc.returncode,
                         "executions": int(execs[-1]) if execs else None, "coverage": int(cov[-1]) if cov else None,
                         "corpus_files": len(list(corpus.iterdir())), "artifacts": crashes, "problem": problem}
        print(name, json.dumps(results[name]))  # noqa: T201
    command = "bench/fuzz_decoders.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "targets": results}, indent=1))
    lines = [f"# Decoder fuzzing (atheris)\n\nCommand: `{command}`\n",
             "| target | seconds | executions | coverage (edges) | corpus | result |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        verdict = "no finding" if r["returncode"] == 0 else f"**finding**: {r['problem'] or r['artifacts']}"
        lines.append(f"| {name} | {r['seconds']} | {r['executions']} | {r['coverage']} | {r['corpus_files']} | "
                     f"{verdict} |")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 0 if all(r["returncode"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
