"""GPU throughput of the worker code paths, runnable on a bare CUDA machine.

Usage (on the GPU machine; needs only torch, numpy, Pillow, onnx and onnx2torch)::

    python bench/gpu_throughput.py face --models var/models --n 4000 --out /tmp/face_gpu.json
    python bench/gpu_throughput.py audio_events --models var/models --minutes 240 --out /tmp/ae_gpu.json

``face``: the path a ``gpu.face`` worker runs, ``FacePlugin.process`` on batches of Items (JPEG decode on a thread
pool, pyramid + YuNet, alignment, SFace, quality), on 640 x 480 JPEG scenes composed from the public-domain test
photos in ``plugins/face/tests/samples`` (1-3 faces each, 40-200 px). Also reported: analysis alone (decoded
pixels in, no JPEG decode), decode alone, peak GPU memory, and the largest vector difference between the GPU and
the CPU path on the same images.

``audio_events``: YAMNet + the event logic (``StreamAnalyzer`` and the plugin's event extraction) on a synthetic
waveform (noise, tones and bursts); file decoding (PyAV) is not part of this figure.

Writes ``--out`` (JSON) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "plugins" / "face" / "tests" / "samples"


def device_info() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "cuda": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


# --------------------------------------------------------------------------- face


def face_scenes(out_dir: Path, count: int, width: int = 640, height: int = 480, seed: int = 0) -> list[Path]:
    """``count`` JPEG scenes: a blurred, recoloured photo as background, 1-3 face photos pasted on it."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    photos = [Image.open(p).convert("RGB") for p in sorted(SAMPLES.glob("*.jpg"))]
    paths = []
    for k in range(count):
        bg = photos[k % len(photos)].resize((width, height)).filter(ImageFilter.GaussianBlur(12))
        bg = Image.fromarray((np.asarray(bg) * rng.uniform(0.5, 1.0, 3)).astype(np.uint8))
        for _ in range(int(rng.integers(1, 4))):
            face = photos[int(rng.integers(len(photos)))]
            side = int(rng.integers(90, 300))  # the photos are head-and-shoulders: faces ~40-200 px
            face = face.resize((side, int(side * face.height / face.width)))
            bg.paste(face, (int(rng.integers(0, max(1, width - side))), int(rng.integers(0, max(1, height - side)))))
        path = out_dir / f"scene_{k:04d}.jpg"
        bg.save(path, quality=90)
        paths.append(path)
    return paths


def face_bench(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from plugins.face import FacePlugin
    from retrieval.plugin_api import Item, MediaKind

    tmp = Path(tempfile.mkdtemp(prefix="mmsec-face-gpu-"))
    files = face_scenes(tmp, args.distinct)
    paths = [files[k % len(files)] for k in range(args.n)]
    report: dict[str, Any] = {
        "device_info": device_info(),
        "images": args.n,
        "distinct_files": len(files),
        "image_size": "640x480 JPEG q90",
        "runs": [],
    }
    device = args.device
    model_dir = Path(args.models) / "face"

    def make(batch_device: str, settings: dict[str, Any] | None = None) -> Any:
        plugin = FacePlugin(settings or {}, model_dir)
        plugin.load(batch_device)
        return plugin

    items = [Item(i, MediaKind.IMAGE, p) for i, p in enumerate(paths)]

    # decode alone, on the plugin's thread pool
    plugin = make(device)
    list(plugin._map(plugin._read, items[:64]))  # warm-up: thread pool
    t0 = time.perf_counter()
    decoded = list(plugin._map(plugin._read, items[: args.analysis_images]))
    report["decode_images_per_s"] = round(len(decoded) / (time.perf_counter() - t0), 1)
    t0 = time.perf_counter()
    fast = list(plugin._map(plugin._read_jpeg_fast, items[: args.analysis_images]))
    report["decode_torchvision_images_per_s"] = round(len(fast) / (time.perf_counter() - t0), 1)
    pixels = [d[0] for d in decoded if not isinstance(d, str)]
    print("decode", report["decode_images_per_s"], "torchvision", report["decode_torchvision_images_per_s"], flush=True)
    reference = make("cpu")._engine.analyse(pixels[: args.parity]) if device != "cpu" and args.parity else None

    if args.profile and device.startswith("cuda"):
        try:
            report["profile"] = profile_analysis(plugin._engine, pixels[:32], args.profile)
        except Exception as exc:  # noqa: BLE001 - a diagnostic must not cost the measurements
            print("profile failed:", exc, flush=True)

    # analysis alone (decoded pixels in), one run per settings variant
    report["analysis_only"] = []
    for text in args.analysis_variants:
        settings = json.loads(text)
        engine = make(device, settings)._engine
        batch = int(settings.get("analysis_batch", 64))
        for _ in range(2):  # warm-up (cudnn plans for every batch shape)
            engine.analyse(pixels[:batch])
        engine.analyse(pixels[-(len(pixels) % batch or batch) :])
        sync(device)
        t0 = time.perf_counter()
        for start in range(0, len(pixels), batch):
            engine.analyse(pixels[start : start + batch])
        sync(device)
        row = {"settings": json.loads(text), "images_per_s": round(len(pixels) / (time.perf_counter() - t0), 1)}
        if reference is not None:
            row["parity_vs_cpu"] = parity(engine.analyse(pixels[: args.parity]), reference)
        report["analysis_only"].append(row)
        print("analysis", row, flush=True)
    good = [r for r in report["analysis_only"] if r.get("parity_vs_cpu", {}).get("acceptable", True)]
    best = max(good, key=lambda r: r["images_per_s"])["settings"] if good else {}

    on_device, _ = make(device)._split_decoding(items[:200], list(range(min(200, len(items)))))
    report["device_decodable_share"] = round(len(on_device) / min(200, len(items)), 3)
    # the worker path with the fastest acceptable settings (and the process variants on top of them)
    for batch, extra in [(b, json.loads(v)) for v in args.process_variants for b in args.batches]:
        settings = {**best, **extra}
        plugin = make(device, settings)
        plugin.process(items[: batch * 2])  # warm-up: cudnn plans, thread pool
        sync(device)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        faces = 0
        errors = 0
        for start in range(0, len(items), batch):
            for r in plugin.process(items[start : start + batch]):
                faces += len(r.findings)
                errors += bool(r.error)
        sync(device)
        secs = time.perf_counter() - t0
        run = {
            "path": "FacePlugin.process (decode + analysis)",
            "batch": batch,
            "settings": settings,
            "seconds": round(secs, 3),
            "images_per_s": round(len(items) / secs, 1),
            "faces_per_s": round(faces / secs, 1),
            "faces": faces,
            "errors": errors,
        }
        if device.startswith("cuda"):
            run["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
        report["runs"].append(run)
        print(run, flush=True)
    return report


def parity(got: list[Any], ref: list[Any]) -> dict[str, Any]:
    """How far one path's faces are from a reference path's on the same images."""
    worst_cos, worst_box, count_diff = 1.0, 0.0, 0
    for a, b in zip(got, ref, strict=True):
        count_diff += abs(len(a) - len(b))
        for fa in a:
            if not b:
                continue
            best = max(b, key=lambda fb: float(np.dot(fa.vector, fb.vector)))
            worst_cos = min(worst_cos, float(np.dot(fa.vector, best.vector)))
            worst_box = max(worst_box, float(np.abs(np.subtract(fa.box, best.box)).max()))
    return {
        "images": len(ref),
        "face_count_differences": count_diff,
        "min_cosine_vs_cpu": round(worst_cos, 6),
        "max_box_difference_px": round(worst_box, 3),
        "acceptable": count_diff == 0 and worst_cos >= 0.999 and worst_box <= 2.0,
    }


def profile_analysis(engine: Any, pixels: list[Any], out: Path) -> dict[str, Any]:
    """torch.profiler over one analysis batch: where device and host time go."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    engine.analyse(pixels)
    sync("cuda")
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        engine.analyse(pixels)
        torch.cuda.synchronize()
    averages = prof.key_averages()
    by_device = averages.table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=60)
    by_host = averages.table(sort_by="self_cpu_time_total", row_limit=25, max_name_column_width=60)
    out.write_text(by_device + "\n\n" + by_host)
    print(by_device[:4500], by_host[:2500], sep="\n", flush=True)
    return {"images": len(pixels), "table": str(out)}


# --------------------------------------------------------------------------- audio events


def synthetic_audio(seconds: float, rate: int = 16_000, seed: int = 0) -> np.ndarray:
    """Noise floor with tones and short bursts, so the event logic has work to do."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    wave = (rng.standard_normal(n) * 0.01).astype(np.float32)
    t = np.arange(rate * 2) / rate
    for start in range(0, n - rate * 2, rate * 7):
        kind = (start // (rate * 7)) % 3
        if kind == 0:
            wave[start : start + rate * 2] += 0.3 * np.sin(2 * np.pi * (700 + 300 * np.sin(2 * np.pi * 0.5 * t)) * t)
        elif kind == 1:
            burst = rng.standard_normal(rate // 4) * np.exp(-np.arange(rate // 4) / 600)
            wave[start : start + rate // 4] += 0.8 * burst.astype(np.float32)
    return np.clip(wave, -1, 1)


def audio_events_bench(args: argparse.Namespace) -> dict[str, Any]:
    from plugins.audio_events import AudioEventPlugin
    from plugins.audio_events.pipeline import StreamAnalyzer

    report: dict[str, Any] = {"device_info": device_info(), "runs": []}
    seconds = args.minutes * 60.0
    wave = synthetic_audio(seconds)
    for device in [args.device] + (["cpu"] if args.cpu_minutes and args.device != "cpu" else []):
        plugin = AudioEventPlugin({}, Path(args.models) / "audio_events")
        plugin.load(device)
        chunk = int(float(plugin.settings["chunk_s"]) * 16_000)
        audio = wave if device == args.device else wave[: int(args.cpu_minutes * 60 * 16_000)]

        def one_pass(samples: np.ndarray, plugin: Any = plugin, chunk: int = chunk) -> int:
            analyzer = StreamAnalyzer(
                plugin._yamnet, max_embeddings=int(plugin.settings["max_embeddings"]), head=plugin._head
            )
            for start in range(0, samples.size, chunk):
                analyzer.feed(samples[start : start + chunk])
            return len(plugin._event_findings(analyzer.finish()))

        one_pass(audio[: 16_000 * 300])  # warm-up
        sync(device)
        t0 = time.perf_counter()
        events = one_pass(audio)
        sync(device)
        secs = time.perf_counter() - t0
        run = {
            "device": device,
            "audio_s": round(audio.size / 16_000, 1),
            "seconds": round(secs, 3),
            "x_real_time": round(audio.size / 16_000 / secs, 1),
            "events": events,
            "torch_threads": __import__("torch").get_num_threads(),
        }
        report["runs"].append(run)
        print(run, flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["face", "audio_events"])
    ap.add_argument("--models", type=Path, default=ROOT / "var" / "models")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--n", type=int, default=4000, help="face: images per run")
    ap.add_argument("--distinct", type=int, default=400, help="face: distinct scene files")
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 128], help="face: items per process() call")
    ap.add_argument(
        "--analysis-variants",
        nargs="+",
        default=["{}"],
        help="face: plugin settings (JSON) per analysis-only run; the fastest acceptable one runs process()",
    )
    ap.add_argument(
        "--process-variants",
        nargs="+",
        default=["{}", '{"jpeg_decode": "host"}'],
        help="face: settings (JSON) laid over the fastest analysis settings, one process() run each per batch",
    )
    ap.add_argument("--analysis-images", type=int, default=512, help="face: decoded images per analysis run")
    ap.add_argument("--profile", type=Path, help="face: write a torch.profiler table of one batch here (CUDA only)")
    ap.add_argument("--parity", type=int, default=32, help="face: images compared with the CPU path (0: skip)")
    ap.add_argument("--minutes", type=float, default=120, help="audio_events: minutes of audio on --device")
    ap.add_argument("--cpu-minutes", type=float, default=10, help="audio_events: minutes on the CPU (0: skip)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    report = face_bench(args) if args.what == "face" else audio_events_bench(args)
    report.update({"started": started, "command": " ".join(["python", "bench/gpu_throughput.py", *sys.argv[1:]])})
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    buf = io.StringIO()
    json.dump(report, buf, indent=1)
    print(buf.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
