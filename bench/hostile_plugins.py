"""Each installed plugin's ``process`` on the hostile files that would reach it.

    .venv/bin/python bench/hostile_plugins.py CORPUS_DIR [--per-plugin 60] [--timeout 60] [--plugins a,b]
        [--out docs/benchmarks/hostile_plugins]

A plugin only sees media that passed the metadata step, so the sample for a plugin is drawn (seeded)
from the corpus files whose sniffed kind the plugin declares and whose probe succeeds: those are the
hostile inputs that really get to ``process`` (video reaches plugins as re-encoded PNG frames and WAV
tracks, made by ``media_io`` from decoded data). One child process per plugin loads the model once and
processes the files one by one under an alarm; if it dies (signal, exception outside ``process``'s
contract), the file is recorded and a new child continues after it. Outcomes per file: ``ok``,
``item_error`` (``ItemResult.error``: the item is marked failed with that reason, as the contract
wants), ``exception`` (``process`` raised: the whole batch would fail), ``hang``, ``crash``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from retrieval import media_io  # noqa: E402
from retrieval.plugin_api import Item, MediaKind  # noqa: E402
from retrieval.plugin_registry import discover  # noqa: E402

MODEL_DIR = Path(os.environ.get("MMSEC_MODEL_DIR", ROOT / "var" / "models"))


class Alarm(Exception):
    pass


def reaches_plugins(path: Path) -> str | None:
    """The media kind this file would be processed as, or None if the metadata step rejects it."""
    try:
        if path.stat().st_size == 0:
            return None
        kind = media_io.sniff(path).kind
        if kind == "image":
            media_io.probe_image(path)
        elif kind == "audio":
            media_io.probe_av(path)
        else:
            return None
        return kind
    except Exception:  # noqa: BLE001 - rejected in the metadata step, whatever the reason
        return None


def _child(name: str, files: list[tuple[str, str]], timeout: int, write_fd: int) -> None:
    cls = discover().plugins[name]
    plugin = cls(dict(cls.default_settings), MODEL_DIR / name)
    plugin.load("cpu")

    def on_alarm(signum: int, frame: Any) -> None:
        raise Alarm()

    signal.signal(signal.SIGALRM, on_alarm)
    for i, (file, kind) in enumerate(files):
        os.write(write_fd, (json.dumps({"start": i}) + "\n").encode())
        started = time.monotonic()
        item = Item(media_id=i, kind=MediaKind(kind), path=Path(file))
        signal.alarm(timeout)
        try:
            [result] = plugin.process([item])
            outcome, reason = ("item_error", str(result.error)[:200]) if result.error else ("ok", "")
        except Alarm:
            outcome, reason = "hang", f"process() still running after {timeout} s"
        except Exception as exc:  # noqa: BLE001
            outcome, reason = "exception", f"{exc.__class__.__name__}: {str(exc)[:200]}"
        finally:
            signal.alarm(0)
        os.write(write_fd, (json.dumps({"done": i, "outcome": outcome, "reason": reason,
                                        "seconds": round(time.monotonic() - started, 3)}) + "\n").encode())
    os._exit(0)


def run_plugin(name: str, files: list[tuple[str, str]], timeout: int) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    position = 0
    while position < len(files):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _child(name, files[position:], timeout, w)
        os.close(w)
        current = None
        with os.fdopen(r) as reader:
            for line in reader:
                msg = json.loads(line)
                if "start" in msg:
                    current = position + msg["start"]
                else:
                    results.append({"file": files[position + msg["done"]][0], **{k: msg[k] for k in
                                    ("outcome", "reason", "seconds")}})
                    current = None
        _, status, usage = os.wait4(pid, 0)
        if current is None:
            break
        why = (f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}" if os.WIFSIGNALED(status)
               else f"exited {os.WEXITSTATUS(status)}")
        results.append({"file": files[current][0], "outcome": "crash", "reason": why, "seconds": None})
        position = current + 1
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--per-plugin", type=int, default=60)
    parser.add_argument("--timeout", type=int, default=60)
    parser.add_argument("--plugins", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "hostile_plugins")
    args = parser.parse_args(argv)
    registry = discover()
    names = args.plugins.split(",") if args.plugins else sorted(registry.plugins)
    files = sorted(p for p in args.corpus.rglob("*") if p.is_file() and p.name != "manifest.csv")
    random.Random(args.seed).shuffle(files)
    pool: dict[str, list[tuple[str, str]]] = {"image": [], "audio": []}
    for path in files:  # enough candidates of each kind for every plugin
        if min(len(v) for v in pool.values()) >= args.per_plugin:
            break
        kind = reaches_plugins(path)
        if kind and len(pool[kind]) < args.per_plugin:
            pool[kind].append((str(path), kind))
    report: dict[str, Any] = {}
    for name in names:
        cls = registry.plugins[name]
        kinds = {str(k.value if hasattr(k, "value") else k) for k in cls.media_kinds}
        sample = [f for kind in sorted(kinds & set(pool)) for f in pool[kind]][: args.per_plugin]
        started = time.monotonic()
        results = run_plugin(name, sample, args.timeout)
        report[name] = {"files": len(results), "outcomes": dict(Counter(r["outcome"] for r in results)),
                        "wall_s": round(time.monotonic() - started, 1),
                        "problems": [r for r in results if r["outcome"] in ("exception", "hang", "crash")]}
        print(name, json.dumps({k: report[name][k] for k in ("files", "outcomes", "wall_s")}))  # noqa: T201
    command = "bench/hostile_plugins.py " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "plugins": report}, indent=1))
    lines = [f"# Plugins on hostile input\n\nCommand: `{command}`\n",
             "Files: hostile corpus files that pass the metadata step (what really reaches `process`).\n",
             "| plugin | files | ok | item_error | exception | hang | crash | wall s |", "|---" * 8 + "|"]
    for name, r in report.items():
        o = r["outcomes"]
        lines.append(f"| {name} | {r['files']} | {o.get('ok', 0)} | {o.get('item_error', 0)} | "
                     f"{o.get('exception', 0)} | {o.get('hang', 0)} | {o.get('crash', 0)} | {r['wall_s']} |")
    problems = [(n, p) for n, r in report.items() for p in r["problems"]]
    lines += ["", f"Problems: {len(problems)}", ""]
    lines += [f"- {n}: `{p['file']}` {p['outcome']}: {p['reason']}" for n, p in problems[:60]]
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
