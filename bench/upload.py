"""Benchmark of evidence intake: one large multipart upload through the real HTTP stack.

Usage: ``python bench/upload.py [--size-mb 1024] [--var /tmp/mmsec-bench] [--port 8765]``

Self-contained: starts the embedded PostgreSQL + Redis in a private state dir, migrates, creates a user, an API
token and a case through the ORM, starts gunicorn (1 gthread worker, 4 threads) as a subprocess, then streams a
file of random bytes (generated on disk, ``--size-mb`` MiB) as ``multipart/form-data`` to ``POST /api/v1/media/``
with the stdlib ``http.client`` (body built here: boundary, part headers, 1 MiB file chunks, trailing boundary;
``Content-Length`` sent, no chunked encoding). Measures wall-clock throughput (first byte sent to response read)
and the gunicorn worker's resident memory (``VmRSS`` of ``/proc/<pid>/status``, sampled every 50 ms in a thread):
baseline before the upload and peak during it. Checks the answer is 201 and the stored SHA-256 is the file's.
Random bytes are not a valid media file: the metadata step would later mark the item failed; intake is what is
measured here (no Celery worker runs).

Writes the ``upload`` key of docs/benchmarks/platform.json (other keys kept), regenerates
docs/benchmarks/platform.md and prints the Markdown table. Stops gunicorn and the embedded services at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import (  # noqa: E402  (bench/ is on sys.path when run as a script)
    machine,
    services_down,
    services_up,
    setup_user_and_case,
    start_gunicorn,
    stop_gunicorn,
    write_results,
)

CHUNK = 1024 * 1024
RSS_TARGET_MB = 100.0


# --------------------------------------------------------------------------- upload benchmark


def make_file(path: Path, size_mb: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for _ in range(size_mb):
            block = os.urandom(CHUNK)
            digest.update(block)
            fh.write(block)
    return digest.hexdigest()


def read_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak_kb = max(self.peak_kb, read_rss_kb(self.pid))
            self.samples += 1
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def multipart_body(path: Path, case_id: int, boundary: str) -> tuple[int, Iterator[bytes]]:
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"case\"\r\n\r\n{case_id}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)

    def gen() -> Iterator[bytes]:
        yield head
        with open(path, "rb") as fh:
            while block := fh.read(CHUNK):
                yield block
        yield tail

    return length, gen()


def worker_pid(master_pid: int) -> int:
    import psutil

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = psutil.Process(master_pid).children()
        if children:
            return children[0].pid
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker process")


def run(args: argparse.Namespace) -> dict[str, Any]:
    var: Path = args.var.resolve()
    services_up(var)
    proc = None
    data_file = var / f"bench-upload-{args.size_mb}MiB.bin"
    try:
        token, case = setup_user_and_case(f"bench upload {time.strftime('%Y-%m-%d %H:%M:%S')}")
        print(f"generating {args.size_mb} MiB of random bytes in {data_file} ...", flush=True)
        t0 = time.perf_counter()
        sha = make_file(data_file, args.size_mb)
        print(f"  done in {time.perf_counter() - t0:.1f} s, sha256 {sha}", flush=True)
        proc = start_gunicorn(var, args.port, token, case.pk)
        wpid = worker_pid(proc.pid)
        time.sleep(0.5)
        baseline_kb = read_rss_kb(wpid)
        boundary = f"mmsecbench{uuid.uuid4().hex}"
        length, body = multipart_body(data_file, case.pk, boundary)
        sampler = RssSampler(wpid)
        sampler.start()
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=900)
        t0 = time.perf_counter()
        conn.request("POST", "/api/v1/media/", body=body, headers={
            "Authorization": f"Token {token}", "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(length)})
        t_sent = time.perf_counter()
        resp = conn.getresponse()
        payload = resp.read()
        t_done = time.perf_counter()
        conn.close()
        sampler.stop()
        after_kb = read_rss_kb(wpid)
        if resp.status != 201:
            raise RuntimeError(f"upload answered {resp.status}: {payload[:500]!r}")
        result = json.loads(payload)[0]
        stored_sha = result["media"]["sha256"]
        from django.db import connection

        from retrieval.models import MediaItem

        db_sha = MediaItem.objects.get(pk=result["media"]["id"]).sha256
        connection.close()
        size_mb = length / 1024**2
        total_s = t_done - t0
        peak_mb = sampler.peak_kb / 1024
        base_mb = baseline_kb / 1024
        return {
            "size_mib": args.size_mb, "body_bytes": length, "status": resp.status,
            "sha256_file": sha, "sha256_response": stored_sha, "sha256_db": db_sha,
            "sha256_match": sha == stored_sha == db_sha, "created": result["created"],
            "send_s": round(t_sent - t0, 2), "total_s": round(total_s, 2),
            "throughput_mib_s": round(size_mb / total_s, 1),
            "rss_baseline_mb": round(base_mb, 1), "rss_peak_mb": round(peak_mb, 1),
            "rss_after_mb": round(after_kb / 1024, 1), "rss_growth_mb": round(peak_mb - base_mb, 1),
            "rss_target_mb": RSS_TARGET_MB, "rss_within_target": peak_mb - base_mb < RSS_TARGET_MB,
            "rss_samples": sampler.samples,
        }
    finally:
        stop_gunicorn(proc)
        data_file.unlink(missing_ok=True)
        services_down(var)


def table(r: dict[str, Any]) -> str:
    rows = [
        ("File size", f"{r['size_mib']} MiB (random bytes; body {r['body_bytes']:,} B)"),
        ("Response", f"{r['status']} (created={r['created']})"),
        ("SHA-256 file = response = DB", "yes" if r["sha256_match"] else "**NO**"),
        ("Time to send body", f"{r['send_s']} s"),
        ("Time to 201 response", f"{r['total_s']} s"),
        ("Throughput (to response)", f"{r['throughput_mib_s']} MiB/s"),
        ("Worker RSS baseline", f"{r['rss_baseline_mb']} MB"),
        ("Worker RSS peak during upload", f"{r['rss_peak_mb']} MB ({r['rss_samples']} samples @ 50 ms)"),
        ("Worker RSS growth (peak - baseline)",
         f"{r['rss_growth_mb']} MB (target < {r['rss_target_mb']:.0f} MB: "
         f"{'met' if r['rss_within_target'] else '**missed**'})"),
        ("Worker RSS after response", f"{r['rss_after_mb']} MB"),
    ]
    return "\n".join(["| Metric | Value |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--var", type=Path, default=Path("/tmp/mmsec-bench"), help="private state dir")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks alone")
    args = parser.parse_args(argv)
    result = run(args)
    md = table(result)
    print(md)
    if not args.no_write:
        command = ".venv/bin/python bench/upload.py"
        if args.size_mb != 1024:
            command += f" --size-mb {args.size_mb}"
        write_results("upload", {
            "command": command, "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": machine(), "result": result, "table_md": md,
            "notes": [
                "Throughput is wall time from the first body byte sent to the 201 response read: it includes "
                "server-side parsing, SHA-256, fsync of the temp file, the move into the content-addressed "
                "store and the DB rows; client and server share the 2 CPUs.",
                "RSS is VmRSS of the single gunicorn worker process, sampled every 50 ms by the client.",
            ],
        })
    return 0 if result["sha256_match"] else 1


if __name__ == "__main__":
    sys.exit(main())
