"""Load test of the whole site as ``make run`` serves it (issue 10): 50 users browsing, searching by example and
uploading for 5 minutes, on loopback.

Usage: ``python bench/load_test.py [CORPUS_DIR] [--users 50] [--minutes 5] [--var /tmp/mmsec-load] [--port 8790]``

1. ``make run`` in a private state dir (``MMSEC_VAR_DIR``): embedded PostgreSQL + Redis, gunicorn (2 gthread
   workers x 8 threads), one Celery worker (concurrency 1) and beat: the default single-machine deployment.
2. Seeding through the real paths: 5 cases with 10 members each (an owner and 9 investigators, created through
   the ORM with passwords and API tokens), then evidence uploaded through ``POST /api/v1/media/``: per case 8
   photos, 3 sound-event clips, 2 speech clips and a fingerprint from the dev corpus, processed by the worker
   (every enabled plugin), so that search by example has real faces and sounds to start from.
3. ``locust`` headless (bench/locustfile.py): 30 investigators in the browser, 15 API clients searching by
   example (similar faces, similar sounds, face probe photo, audio clip probe, transcripts), 5 uploaders adding
   new photos and clips; the work backlog (queued + running jobs) sampled every 10 s.
4. After the run: time until the backlog is empty, processing latency of the uploads made during the run.

Writes docs/benchmarks/load_test.md and .json (figures per request group and per request name, the machine).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import machine

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
DOCS = ROOT / "docs" / "benchmarks"
PASSWORD = "load-test-password-1"
CASES, MEMBERS = 5, 10
WORDS = ["time", "house", "letter", "money", "morning", "sister", "family", "night", "water", "door"]


def wait_http(port: int, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"http://127.0.0.1:{port}{path} did not answer within {timeout:.0f} s")


def start_site(var: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, MMSEC_VAR_DIR=str(var), MMSEC_PORT=str(port), MMSEC_ADMIN_PASSWORD=PASSWORD,
               MMSEC_ALLOWED_HOSTS="127.0.0.1,localhost",
               MMSEC_MODEL_DIR=os.environ.get("MMSEC_MODEL_DIR", str(ROOT / "var" / "models")))  # shared weights
    log = open(var / "make-run.log", "ab")  # noqa: SIM115 - kept open for the site's lifetime
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    wait_http(port, "/health/", 900)
    return proc


def stop_site(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=90)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def django_setup(var: Path) -> None:
    os.environ.update({"MMSEC_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "mmsec_site.settings"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def seed_people() -> list[dict[str, Any]]:
    """5 cases x 10 members (ORM): the first of each case owns it, the others investigate."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from retrieval.models import Case
    from retrieval.services.cases import create_case, set_member

    users: list[dict[str, Any]] = []
    model = get_user_model()
    for c in range(CASES):
        owner = None
        case = None
        for m in range(MEMBERS):
            name = f"load{c * MEMBERS + m + 1:02d}"
            user, created = model.objects.get_or_create(username=name)
            if created:
                user.set_password(PASSWORD)
                user.save()
            if m == 0:
                owner = user
                case = Case.objects.filter(title=f"Load case {c + 1}").first() or create_case(
                    actor=user, title=f"Load case {c + 1}", description="load test")
            elif not case.memberships.filter(user=user).exists():
                set_member(actor=owner, case=case, user=user, role="investigator")
            token, _ = Token.objects.get_or_create(user=user)
            users.append({"username": name, "password": PASSWORD, "token": token.key, "case": case.pk,
                          "owner": m == 0})
    return users


def corpus_files(corpus: Path) -> dict[str, list[Path]]:
    rows = list(csv.DictReader((corpus / "manifest.csv").open()))

    def pick(kind: str, column: str = "path") -> list[Path]:
        return [corpus / r[column] for r in rows if r["kind"] == kind and r[column] and (corpus / r[column]).exists()]

    photos = [p for p in pick("face") if "partial" not in p.name]
    speech = [corpus / r["wav16k_path"] for r in rows if r["kind"] == "speech" and r["wav16k_path"]
              and 4.0 <= float(r["duration_s"] or 0) <= 12.0 and (corpus / r["wav16k_path"]).exists()]
    return {"photos": photos, "events": pick("audio_event"), "speech": speech, "prints": pick("fingerprint"),
            "event_wavs": pick("audio_event", "wav16k_path")}


def upload(port: int, token: str, case_id: int, path: Path) -> int | None:
    boundary = f"----mmsecload{random.randrange(10**12)}"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"case\"\r\n\r\n{case_id}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + \
        f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/api/v1/media/", body, {"Authorization": f"Token {token}",
                                                  "Content-Type": f"multipart/form-data; boundary={boundary}"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 201:
        print(f"  seed upload {path.name}: {resp.status} {data[:200]!r}", flush=True)
        return None
    return json.loads(data)[0]["media"]["id"]


def backlog() -> int:
    from retrieval.models import MediaItem, ProcessingJob

    jobs = ProcessingJob.objects.filter(state__in=["queued", "running"]).count()
    return jobs + MediaItem.objects.filter(status="pending").count()


def wait_backlog_empty(timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if backlog() == 0:
            return time.monotonic() - started
        time.sleep(2)
    return None


def seed_media(port: int, users: list[dict[str, Any]], files: dict[str, list[Path]], rng: random.Random) -> dict:
    owners = {u["case"]: u for u in users if u["owner"]}
    for case_id, owner in owners.items():
        chosen = (rng.sample(files["photos"], 8) + rng.sample(files["events"], 3) + rng.sample(files["speech"], 2)
                  + files["prints"][:1])
        for path in chosen:
            upload(port, owner["token"], case_id, path)
    started = time.monotonic()
    drained = wait_backlog_empty(1800)
    return {"items": len(owners) * 14, "processing_s": round(time.monotonic() - started, 1),
            "drained": drained is not None}


def case_plan(case_ids: list[int]) -> tuple[dict[str, Any], list[str] | None]:
    from retrieval.models import Finding, MediaItem
    from retrieval.services import search

    face = search.active_space("face", "face")
    cases: dict[str, Any] = {}
    for cid in case_ids:
        media = list(MediaItem.objects.filter(case_id=cid).values_list("id", flat=True))
        faces = list(Finding.objects.filter(case_id=cid, space=face).values_list("id", flat=True)[:200]) \
            if face else []
        sounds = list(Finding.objects.filter(case_id=cid, plugin="audio_events", vector__isnull=False)
                      .values_list("id", flat=True)[:200])
        cases[str(cid)] = {"id": cid, "media": media, "faces": faces, "sounds": sounds}
    return cases, ([face.plugin, face.name] if face else None)


def sampler(stop: threading.Event, samples: list[dict[str, Any]], started: float) -> None:
    from django.db import connection

    while not stop.wait(10):
        samples.append({"t_s": round(time.monotonic() - started), "backlog": backlog(),
                        "load1": round(os.getloadavg()[0], 2)})
    connection.close()


def read_stats(prefix: Path) -> list[dict[str, Any]]:
    rows = []
    for r in csv.DictReader((prefix.parent / f"{prefix.name}_stats.csv").open()):
        rows.append({"name": r["Name"], "method": r["Type"], "requests": int(r["Request Count"]),
                     "failures": int(r["Failure Count"]), "p50_ms": float(r["50%"] or 0),
                     "p95_ms": float(r["95%"] or 0), "p99_ms": float(r["99%"] or 0),
                     "max_ms": float(r["Max Response Time"] or 0), "rps": float(r["Requests/s"] or 0)})
    return rows


def group_percentiles(prefix: Path) -> dict[str, dict[str, float]]:
    """p50/p95 per group from the full response-time history (not an average of per-name percentiles)."""
    times: dict[str, list[float]] = {}
    history = prefix.parent / f"{prefix.name}_requests.jsonl"
    for line in history.open():
        rec = json.loads(line)
        times.setdefault(rec["name"].split(":", 1)[0], []).append(rec["ms"])
        if not rec["name"].startswith("login"):
            times.setdefault("all (pages + API)", []).append(rec["ms"])
    out = {}
    for group, values in times.items():
        values.sort()
        out[group] = {"requests": len(values), "p50_ms": round(values[len(values) // 2], 1),
                      "p95_ms": round(values[int(0.95 * (len(values) - 1))], 1), "max_ms": round(values[-1], 1)}
    return out


def processing_latency(since: datetime) -> dict[str, Any]:
    from django.db.models import Max

    from retrieval.models import MediaItem

    rows = (MediaItem.objects.filter(uploaded_at__gte=since).annotate(done=Max("jobs__finished_at"))
            .values_list("uploaded_at", "done", "status"))
    lat = sorted((done - up).total_seconds() for up, done, _ in rows if done)
    statuses: dict[str, int] = {}
    for *_, st in rows:
        statuses[st] = statuses.get(st, 0) + 1
    if not lat:
        return {"uploads": len(rows), "statuses": statuses}
    return {"uploads": len(rows), "statuses": statuses, "p50_s": round(lat[len(lat) // 2], 1),
            "p95_s": round(lat[int(0.95 * (len(lat) - 1))], 1), "max_s": round(lat[-1], 1)}


def write_report(result: dict[str, Any]) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "load_test.json").write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    lines = ["# Load test (issue 10)", "", f"Command: `{result['command']}`", "",
             f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB RAM, Python {m['python']}; "
             f"site, workers, databases and the load generator on the same machine (loopback). "
             f"Run at {result['run_at']}.", "",
             f"Deployment: `make run` defaults (gunicorn 2 gthread workers x 8 threads, 1 Celery worker with "
             f"concurrency 1, embedded PostgreSQL + Redis). Users: {result['users']} for {result['minutes']} min "
             f"(30 browser investigators, 15 API clients searching by example, 5 uploaders); "
             f"seeded {result['seed']['items']} corpus items in 5 cases ({result['seed']['processing_s']} s to "
             f"process).", "",
             "| Group | Requests | Errors | p50 ms | p95 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    errors = {g: sum(r["failures"] for r in result["stats"] if r["name"].startswith(g + ":"))
              for g in result["groups"]}
    errors["all (pages + API)"] = sum(r["failures"] for r in result["stats"]
                                      if r["name"] != "Aggregated" and not r["name"].startswith("login"))
    for group, g in result["groups"].items():
        lines.append(f"| {group} | {g['requests']:,} | {errors.get(group, 0)} | {g['p50_ms']} | {g['p95_ms']} | "
                     f"{g['max_ms']} |")
    lines += ["", "Per request:", "", "| Request | Count | Errors | p50 ms | p95 ms | p99 ms | max ms |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["stats"]:
        if r["name"] != "Aggregated":
            lines.append(f"| {r['name']} | {r['requests']:,} | {r['failures']} | {r['p50_ms']:.0f} | "
                         f"{r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['max_ms']:.0f} |")
    w = result["workers"]
    lines += ["", "Workers: backlog (queued + running jobs + pending items) sampled every 10 s: "
              f"max {w['max_backlog']}, at the end of the run {w['backlog_at_end']}; empty "
              f"{w['drain_s']} s after the users stopped. Uploads during the run: {w['latency'].get('uploads')} "
              f"(statuses {w['latency'].get('statuses')}), upload → last job finished p50 "
              f"{w['latency'].get('p50_s')} s, p95 {w['latency'].get('p95_s')} s, max {w['latency'].get('max_s')} s. "
              f"Load average during the run: {w['load1_min']}–{w['load1_max']}.", ""]
    lines += [f"- {n}" for n in result.get("notes", [])]
    (DOCS / "load_test.md").write_text("\n".join(lines).rstrip() + "\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus", nargs="?", default="/work/corpus")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--spawn-rate", type=float, default=1, help="users started per second (people log in over a "
                    "minute, not all in the same second)")
    ap.add_argument("--var", default="/tmp/mmsec-load")
    ap.add_argument("--port", type=int, default=8790)
    ap.add_argument("--fresh", action="store_true", help="delete the state dir first")
    args = ap.parse_args()
    var, corpus = Path(args.var).resolve(), Path(args.corpus)
    if args.fresh and var.exists():
        subprocess.run([str(PYTHON), "-m", "mmsec_site.embedded", "down", "--var", str(var)], cwd=ROOT, check=False)
        shutil.rmtree(var)
    var.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    print("starting make run ...", flush=True)
    site = start_site(var, args.port)
    try:
        django_setup(var)
        users = seed_people()
        files = corpus_files(corpus)
        print(f"seeding media ({len(users)} users) ...", flush=True)
        seed = seed_media(args.port, users, files, rng)
        print(f"seeded: {seed}", flush=True)
        cases, face_space = case_plan(sorted({u["case"] for u in users}))
        plan = {"users": users, "cases": cases, "face_space": face_space, "words": WORDS,
                "photos": [str(p) for p in files["photos"]],
                "probe_photos": [str(p) for p in files["photos"] if p.suffix == ".jpg"][:10],
                "clips": [str(p) for p in files["speech"] + files["event_wavs"]],
                "probe_clips": [str(p) for p in files["speech"]]}
        (var / "plan.json").write_text(json.dumps(plan))
        prefix = var / "locust"
        samples: list[dict[str, Any]] = []
        stop = threading.Event()
        started_at = datetime.now(UTC)
        t0 = time.monotonic()
        thread = threading.Thread(target=sampler, args=(stop, samples, t0), daemon=True)
        thread.start()
        env = dict(os.environ, MMSEC_LOAD_PLAN=str(var / "plan.json"), MMSEC_LOAD_HISTORY=str(prefix) +
                   "_requests.jsonl")
        cmd = [str(ROOT / ".venv" / "bin" / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
               "-u", str(args.users), "-r", str(args.spawn_rate), "-t", f"{int(args.minutes * 60)}s", "--host",
               f"http://127.0.0.1:{args.port}", "--csv", str(prefix), "--only-summary", "--stop-timeout", "30"]
        print("running locust:", " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT / "bench", env=env, check=False)
        end_backlog = backlog()
        stop.set()
        thread.join()
        drain = wait_backlog_empty(1200)
        stats = read_stats(prefix)
        result = {
            "command": "python bench/load_test.py " + " ".join(sys.argv[1:]),
            "run_at": started_at.isoformat(timespec="seconds"), "machine": machine(), "users": args.users,
            "minutes": args.minutes, "seed": seed, "stats": stats, "groups": group_percentiles(prefix),
            "workers": {"samples": samples, "max_backlog": max((s["backlog"] for s in samples), default=0),
                        "backlog_at_end": end_backlog, "drain_s": round(drain, 1) if drain is not None else None,
                        "latency": processing_latency(started_at),
                        "load1_min": min((s["load1"] for s in samples), default=None),
                        "load1_max": max((s["load1"] for s in samples), default=None)},
            "notes": ["Latency is client-side wall time on loopback (request sent → body read): an upper bound of "
                      "server time. The load generator shares the 2 cores with the site.",
                      "`login:` requests (50 password checks at the start, PBKDF2) are listed but not counted in "
                      "the pages + API group."],
        }
        write_report(result)
        print((DOCS / "load_test.md").read_text())
    finally:
        stop_site(site)
    return 0


if __name__ == "__main__":
    sys.exit(main())
