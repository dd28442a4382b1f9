"""Feed a hostile corpus (``bench/hostile_corpus.py``) through the real decoders, one isolated process per file.

    .venv/bin/python bench/hostile_ingest.py CORPUS_DIR [--timeout 20] [--memory-mb 1536] [--jobs 2]
        [--limit N] [--out docs/benchmarks/hostile_ingest]

Each file goes through what the metadata step and the plugin item builders do (``retrieval.media_io``
and ``retrieval.services.previews``, no Django): empty check → sniff → probe (image or audio/video) →
preview (thumbnail, poster frame or waveform) → decode for plugins (``read_image``, the first video
frames, the first minute of audio). The child process has an address-space limit and a wall-clock
limit. Outcomes: ``ok`` (decoded, i.e. the file would be processed), ``rejected`` (a ``DecodeError`` or
the size/type checks: the item ends ``failed`` with that reason), ``error`` (any other exception: our
bug, the worker would fail the job with a generic reason), ``memory`` (hit the memory limit),
``hang`` (killed at the time limit) and ``crash`` (the process died on a signal: a decoder crash).
Writes OUT.json and OUT.md with the command line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import select
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval import media_io  # noqa: E402
from retrieval.services import previews  # noqa: E402


def ingest_one(path: Path, scratch: Path) -> tuple[str, str]:
    """What processing does with one file; returns (outcome, reason). Raises on unexpected errors."""
    if path.stat().st_size == 0:
        return "rejected", "the file is empty (0 bytes)"
    sniffed = media_io.sniff(path)
    if sniffed.kind == "unknown":
        return "rejected", f"unsupported file type ({sniffed.mime})"
    try:
        if sniffed.kind == "image":
            media_io.probe_image(path)
            previews.image_thumbnail(path, scratch / "preview.png")
            media_io.read_image(path, max_side=1024)
            return "ok", sniffed.mime
        info = media_io.probe_av(path)
        if sniffed.kind == "video":
            at = min(1.0, (info.get("duration_s") or 0) / 2)
            if not previews.video_poster(path, scratch / "preview.png", at):
                return "rejected", "video has no decodable frame"
            for i, _frame in enumerate(media_io.iter_video_frames(path, every_s=1.0)):
                if i >= 4:
                    break
        if sniffed.kind == "audio" or info.get("sample_rate"):
            previews.audio_waveform(path, scratch / "wave.png", info.get("duration_s"))
            for i, _chunk in enumerate(media_io.iter_audio(path, chunk_s=30.0)):
                if i >= 1:
                    break
        return "ok", sniffed.mime
    except media_io.DecodeError as exc:
        return "rejected", str(exc)


def _child(path: Path, memory_bytes: int, write_fd: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        with tempfile.TemporaryDirectory(prefix="hostile-") as scratch:
            outcome, reason = ingest_one(path, Path(scratch))
    except MemoryError:
        outcome, reason = "memory", "MemoryError"
    except Exception as exc:  # noqa: BLE001 - reported as our bug, with where it happened
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb) if "/retrieval/" in f.filename), "")
        outcome, reason = "error", f"{exc.__class__.__name__}: {str(exc)[:200]} [{where}]"
    os.write(write_fd, json.dumps([outcome, reason]).encode()[:60000])
    os._exit(0)


def _preload() -> None:
    """Import the decoders once in the parent, so each forked child starts decoding at once."""
    import av  # noqa: F401
    from PIL import Image, ImageOps  # noqa: F401

    Image.init()


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


class Running:
    def __init__(self, path: Path, pid: int, fd: int) -> None:
        self.path, self.pid, self.fd, self.start, self.buf = path, pid, fd, time.monotonic(), b""


def run(corpus: Path, files: list[Path], timeout: float, memory_mb: int, jobs: int) -> list[dict[str, Any]]:
    _preload()
    memory = _vm_size() + memory_mb * 1024 * 1024
    queue = list(files)
    running: list[Running] = []
    results: list[dict[str, Any]] = []
    while queue or running:
        while queue and len(running) < jobs:
            path = queue.pop(0)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                _child(path, memory, w)
            os.close(w)
            running.append(Running(path, pid, r))
        ready, _, _ = select.select([p.fd for p in running], [], [], 0.05)
        for proc in list(running):
            if proc.fd in ready:
                chunk = os.read(proc.fd, 65536)
                proc.buf += chunk
                if chunk:
                    continue
            elapsed = time.monotonic() - proc.start
            finished = proc.fd in ready  # EOF: the child closed the pipe (exited)
            if not finished and elapsed < timeout:
                continue
            if not finished:
                os.kill(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            os.close(proc.fd)
            running.remove(proc)
            if not finished:
                outcome, reason = "hang", f"killed after {timeout:.0f} s"
            elif os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                outcome, reason = "crash", f"killed by signal {signal.Signals(sig).name}"
            elif proc.buf:
                outcome, reason = json.loads(proc.buf)
            else:
                outcome, reason = "crash", f"exited {os.WEXITSTATUS(status)} without a result"
            if outcome == "error" and "MemoryError" in reason:
                outcome = "memory"
            results.append({"file": str(proc.path.relative_to(corpus)), "outcome": outcome, "reason": reason,
                            "seconds": round(elapsed, 3), "max_rss_mb": round(usage.ru_maxrss / 1024, 1)})
    return results


def summarise(results: list[dict[str, Any]], manifest: dict[str, dict[str, str]]) -> dict[str, Any]:
    by_cat: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    for r in results:
        category = manifest.get(r["file"], {}).get("category", r["file"].split("/")[0])
        by_cat[category][r["outcome"]] += 1
        if r["outcome"] == "rejected":
            reasons[r["reason"].split("(")[0].split(":")[0].strip()[:80]] += 1
    seconds = sorted(r["seconds"] for r in results)
    rss = sorted(r["max_rss_mb"] for r in results)
    return {
        "files": len(results), "outcomes": dict(Counter(r["outcome"] for r in results)),
        "by_category": {k: dict(v) for k, v in sorted(by_cat.items())},
        "top_rejection_reasons": reasons.most_common(15),
        "seconds": {"p50": seconds[len(seconds) // 2], "p99": seconds[int(len(seconds) * 0.99)], "max": seconds[-1]},
        "max_rss_mb": {"p50": rss[len(rss) // 2], "max": rss[-1]},
        "problems": [r for r in results if r["outcome"] in ("error", "hang", "crash", "memory")],
        "slowest": sorted(results, key=lambda r: -r["seconds"])[:10],
    }


def write_report(out: Path, command: str, summary: dict[str, Any], params: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "params": params, **summary}, indent=1))
    lines = [f"# Hostile ingest\n\nCommand: `{command}`\n",
             f"Limits per file: {params['timeout']} s wall clock, {params['memory_mb']} MiB address space above the "
             f"parent's. {summary['files']} files, {params['jobs']} at a time. Wall time {params['wall_s']} s.\n",
             "| outcome | files |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(summary["outcomes"].items())]
    outcomes = sorted({o for c in summary["by_category"].values() for o in c})
    lines += ["", "| category | " + " | ".join(outcomes) + " |", "|---" * (len(outcomes) + 1) + "|"]
    for cat, counts in summary["by_category"].items():
        lines.append(f"| {cat} | " + " | ".join(str(counts.get(o, 0)) for o in outcomes) + " |")
    lines += ["", f"Per-file time: p50 {summary['seconds']['p50']} s, p99 {summary['seconds']['p99']} s, "
              f"max {summary['seconds']['max']} s. Peak RSS: p50 {summary['max_rss_mb']['p50']} MiB, "
              f"max {summary['max_rss_mb']['max']} MiB.", "", "Most common rejection reasons:", ""]
    lines += [f"- {reason} ({n})" for reason, n in summary["top_rejection_reasons"]]
    lines += ["", f"Problems (error/hang/crash/memory): {len(summary['problems'])}", ""]
    lines += [f"- `{p['file']}`: {p['outcome']}: {p['reason']}" for p in summary["problems"][:60]]
    lines += ["", "Slowest files:", ""]
    lines += [f"- `{p['file']}`: {p['seconds']} s, {p['max_rss_mb']} MiB, {p['outcome']}" for p in summary["slowest"]]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--memory-mb", type=int, default=1536)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "hostile_ingest")
    args = parser.parse_args(argv)
    manifest: dict[str, dict[str, str]] = {}
    if (args.corpus / "manifest.csv").exists():
        with open(args.corpus / "manifest.csv") as fh:
            manifest = {row["file"]: row for row in csv.DictReader(fh)}
    files = sorted(p for p in args.corpus.rglob("*") if p.is_file() and p.name != "manifest.csv")
    if args.limit:
        files = files[: args.limit]
    started = time.monotonic()
    results = run(args.corpus, files, args.timeout, args.memory_mb, args.jobs)
    params = {"timeout": args.timeout, "memory_mb": args.memory_mb, "jobs": args.jobs,
              "wall_s": round(time.monotonic() - started, 1)}
    summary = summarise(results, manifest)
    command = "bench/hostile_ingest.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_report(args.out, command, summary, params)
    print(json.dumps({k: summary[k] for k in ("files", "outcomes", "seconds", "max_rss_mb")}))  # noqa: T201
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
