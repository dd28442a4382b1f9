"""Benchmark of the investigator pages at scale (issue 9): a case with 10,000 media items and 100,000 detections.

Usage: ``python bench/case_page.py [--items 10000] [--detections 100000] [--requests 100] [--var /tmp/mmsec-bench-case]
[--port 8767] [--reuse]``

Self-contained like bench/media_list.py: embedded PostgreSQL + Redis in a private state dir, one case seeded through
the ORM (``--items`` media items, ``--detections`` findings spread over them: 40 % face detections with 128-d
vectors in one embedding space, 30 % audio events with times, 20 % transcript segments, 10 % fingerprint
detections; 500 alerts), then gunicorn (1 gthread worker, 4 threads) and sequential requests over one keep-alive
connection with a logged-in session cookie (pages) or a token (API):

- case page at random pages (48 cards each, detection badges, alert count, activity chart);
- case page filtered to images;
- alerts inbox;
- media page of a random item with detections (findings, panels, timeline, similar-item searches);
- similar-face search API (``/api/v1/search/similar/``, k=20) from a random face finding.

Latency is client-side wall time on loopback (request sent → body read), an upper bound of server time.
Writes the ``case_page`` key of docs/benchmarks/platform.json and regenerates docs/benchmarks/platform.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from case_search_seed import SEMANTIC_QUERIES, TEXT_QUERIES, seed_sounds, seed_transcripts
from harness import (
    machine,
    services_down,
    services_up,
    setup_user_and_case,
    start_gunicorn,
    stop_gunicorn,
    write_results,
)
from media_list import seed_items, summary

EVENT_LABELS = ["gunshot", "glass_break", "siren", "scream", "dog_bark", "speech", "vehicle", "alarm"]


def seed_detections(case: Any, n: int, rng: random.Random) -> dict[str, int]:
    import numpy as np
    from django.db import connection

    from retrieval.models import Finding, MediaItem
    from retrieval.services.embeddings import get_or_create_space

    space = get_or_create_space("face", "face", "bench-case-page", 128)
    media = list(MediaItem.objects.filter(case=case).values_list("id", "kind"))
    visual = [m for m in media if m[1] in ("image", "video")]
    audible = [m for m in media if m[1] in ("audio", "video")]
    centers = np.random.default_rng(rng.randint(0, 2**31)).standard_normal((2000, 128)).astype(np.float32)
    counts = {"face": 0, "audio_events": 0, "speech_translation": 0, "fingerprint": 0}
    batch: list[Finding] = []
    for i in range(n):
        r = rng.random()
        if r < 0.4:
            mid, kind = rng.choice(visual)
            vec = centers[rng.randrange(len(centers))] + 0.3 * np.random.default_rng(i).standard_normal(128)
            vec = (vec / np.linalg.norm(vec)).astype(np.float32)
            f = Finding(media_id=mid, case_id=case.pk, media_kind=kind, plugin="face", model_version="bench",
                        key=f"image:{i}:0", space=space, vector=vec, label="face", score=rng.uniform(0.6, 1.0),
                        box=[10, 10, 90, 110], start_s=rng.uniform(0, 600) if kind == "video" else None)
            counts["face"] += 1
        elif r < 0.7:
            mid, kind = rng.choice(audible)
            t = rng.uniform(0, 600)
            f = Finding(media_id=mid, case_id=case.pk, media_kind=kind, plugin="audio_events", model_version="bench",
                        key=f"audio:{i}:0", label=rng.choice(EVENT_LABELS), score=rng.uniform(0.3, 1.0),
                        start_s=t, end_s=t + rng.uniform(0.2, 5.0))
            counts["audio_events"] += 1
        elif r < 0.9:
            mid, kind = rng.choice(audible)
            t = rng.uniform(0, 600)
            f = Finding(media_id=mid, case_id=case.pk, media_kind=kind, plugin="speech_translation",
                        model_version="bench", key=f"audio:{i}:1", text=f"segment {i} of a conversation",
                        score=0.9, start_s=t, end_s=t + 3.0, data={"language": "en", "text_en": f"segment {i}"})
            counts["speech_translation"] += 1
        else:
            mid, kind = rng.choice(visual)
            f = Finding(media_id=mid, case_id=case.pk, media_kind=kind, plugin="fingerprint", model_version="bench",
                        key=f"image:{i}:2", label="fingerprint", score=rng.uniform(0, 1))
            counts["fingerprint"] += 1
        batch.append(f)
        if len(batch) >= 5000:
            Finding.objects.bulk_create(batch)
            batch = []
    Finding.objects.bulk_create(batch)
    with connection.cursor() as cur:
        cur.execute("ANALYZE retrieval_finding")
    return counts


def seed_alerts(case: Any, user: Any, n: int, rng: random.Random) -> None:
    from retrieval.models import Alert, Finding
    from retrieval.services import watchlists

    wl = watchlists.create_watchlist(actor=user, case=case, name="bench events", kind="event_type")
    entry = watchlists.add_entry(actor=user, watchlist=wl, label="gunshot")
    rows = list(Finding.objects.filter(case_id=case.pk, plugin="audio_events", label="gunshot")[:n])
    Alert.objects.bulk_create([
        Alert(watchlist=wl, entry=entry, entry_label="gunshot", case=case, media_id=f.media_id, finding=f,
              plugin="audio_events", dedup_key=f"ev:{f.pk}", score=f.score, start_s=f.start_s, end_s=f.end_s,
              summary=f"Gunshot at {f.start_s:.0f} s", status=rng.choice(["new", "confirmed", "dismissed"]))
        for f in rows
    ])


def session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def timed(conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str],
          body: bytes | None = None) -> float:
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    elapsed = (time.perf_counter() - t0) * 1000
    if resp.status != 200:
        raise RuntimeError(f"{method} {path} answered {resp.status}: {data[:300]!r}")
    return elapsed


def search_pages(conn: http.client.HTTPConnection, headers: dict[str, str], case_id: int, n: int,
                 rng: random.Random) -> dict[str, Any]:
    """Transcript search (keyword, semantic, hybrid), sound-event search by type and "sounds like this"."""
    from urllib.parse import quote

    from retrieval.models import Finding

    events = list(Finding.objects.filter(case_id=case_id, plugin="audio_events", space__isnull=True,
                                         key__startswith="audio:0:e").values_list("id", flat=True)[:5000])
    timed(conn, "GET", f"/search/transcripts/?mode=semantic&q={quote(SEMANTIC_QUERIES[0])}", headers)  # loads MiniLM
    out: dict[str, Any] = {}
    for mode, queries in (("text", TEXT_QUERIES), ("semantic", SEMANTIC_QUERIES),
                          ("hybrid", TEXT_QUERIES + SEMANTIC_QUERIES)):
        out[f"transcripts_{mode}"] = summary([
            timed(conn, "GET", f"/search/transcripts/?mode={mode}&q={quote(rng.choice(queries))}"
                               f"&page={rng.randint(1, 3)}", headers) for _ in range(n)])
    out["transcripts_text_case"] = summary([
        timed(conn, "GET", f"/search/transcripts/?mode=text&case={case_id}&q={quote(rng.choice(TEXT_QUERIES))}",
              headers) for _ in range(n // 2)])
    out["sound_events_type"] = summary([
        timed(conn, "GET", f"/audio-events/?type={rng.choice(['gunshot', 'siren', 'glass_break', 'scream'])}"
                           f"&page={rng.randint(1, 50)}", headers) for _ in range(n)])
    out["sound_events_type_score"] = summary([
        timed(conn, "GET", f"/audio-events/?type=gunshot&sort=score&min_score=0.8&case={case_id}", headers)
        for _ in range(n // 2)])
    out["similar_sounds"] = summary([timed(conn, "GET", f"/audio-events/{rng.choice(events)}/similar/", headers)
                                     for _ in range(n)])
    return out


@dataclass(frozen=True)
class Target:
    """What the measured requests need: the connection, credentials and the seeded case's ids."""

    conn: http.client.HTTPConnection
    page_headers: dict[str, str]
    api_headers: dict[str, str]
    case_id: int
    pages: int
    image_pages: int
    with_findings: list[int]
    faces: list[int]


def measure(t: Target, n: int, rng: random.Random) -> dict[str, Any]:
    """Every request type, ``n`` (or ``n // 2``) times, sequentially; latency summaries by type."""
    conn, page_headers, case_id = t.conn, t.page_headers, t.case_id
    results: dict[str, Any] = {}
    results["case_page"] = summary([timed(conn, "GET", f"/cases/{case_id}/?page={rng.randint(1, t.pages)}",
                                          page_headers) for _ in range(n)])
    results["case_page_images"] = summary([
        timed(conn, "GET", f"/cases/{case_id}/?kind=image&page={rng.randint(1, t.image_pages)}", page_headers)
        for _ in range(n // 2)])
    results["alerts_inbox"] = summary([timed(conn, "GET", f"/alerts/?status=new&case={case_id}", page_headers)
                                       for _ in range(n // 2)])
    results["media_page"] = summary([timed(conn, "GET", f"/media/{rng.choice(t.with_findings)}/", page_headers)
                                     for _ in range(n // 2)])
    results["similar_search_api"] = summary([
        timed(conn, "POST", "/api/v1/search/similar/", t.api_headers,
              json.dumps({"plugin": "face", "space": "face", "finding": rng.choice(t.faces), "k": 20}).encode())
        for _ in range(n)])
    results.update(search_pages(conn, page_headers, case_id, n, rng))
    return results


SEED_RECORD = "case_page_seed.json"


def _seeded(var: Path, case: Any, user: Any, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """Seed the case, or with ``--reuse`` take the case an earlier run seeded in this state dir (11 min saved)."""
    from django.db import connection

    from retrieval.models import Case

    record = var / SEED_RECORD
    if args.reuse:
        if not record.is_file():
            raise SystemExit(f"--reuse: no {SEED_RECORD} in {var}; run once without --reuse first")
        seeded = json.loads(record.read_text())
        if seeded["args"] != _seed_args(args):
            raise SystemExit(f"--reuse: {var} was seeded with {seeded['args']}, not {_seed_args(args)}")
        return {**seeded, "case": Case.objects.get(pk=seeded["case_id"])}
    t0 = time.perf_counter()
    kinds = seed_items(case, args.items, rng)
    detections = seed_detections(case, args.detections, rng)
    seed_alerts(case, user, 500, rng)
    search_data = {"transcripts": seed_transcripts(case, args.segments, rng),
                   "sounds": seed_sounds(case, args.sound_events, rng)}
    with connection.cursor() as cur:
        cur.execute("ANALYZE retrieval_finding")
    seed_s = round(time.perf_counter() - t0, 1)
    print(f"seeded {args.items} items, {args.detections} detections in {seed_s:.0f} s", flush=True)
    seeded = {"case_id": case.pk, "kinds": kinds, "detections": detections, "search_data": search_data,
              "seed_s": seed_s, "args": _seed_args(args)}
    record.write_text(json.dumps(seeded, indent=1))
    return {**seeded, "case": case}


def _seed_args(args: argparse.Namespace) -> dict[str, int]:
    return {"items": args.items, "detections": args.detections, "segments": args.segments,
            "sound_events": args.sound_events, "seed": args.seed}


def run(args: argparse.Namespace) -> dict[str, Any]:
    var: Path = args.var.resolve()
    rng = random.Random(args.seed)
    os.environ.setdefault("MMSEC_MODEL_DIR", str(Path(__file__).resolve().parents[1] / "var" / "models"))
    services_up(var)
    proc = None
    try:
        token, case = setup_user_and_case(f"bench case page {time.strftime('%Y-%m-%d %H:%M:%S')}",
                                          create=not args.reuse)
        from django.contrib.auth import get_user_model

        from retrieval.models import Finding, MediaItem

        user = get_user_model().objects.get(username="bench")
        seeded = _seeded(var, case, user, args, rng)
        case, kinds, detections, search_data, seed_s = (
            seeded["case"], seeded["kinds"], seeded["detections"], seeded["search_data"], seeded["seed_s"])
        rng = random.Random(args.seed + 1)  # the requests: the same whether this run seeded or reused
        with_findings = list(Finding.objects.filter(case_id=case.pk).values_list("media_id", flat=True)
                             .distinct()[:2000])
        faces = list(Finding.objects.filter(case_id=case.pk, plugin="face").values_list("id", flat=True)[:5000])
        pages = -(-args.items // 48)
        image_pages = -(-kinds["image"] // 48)
        cookie = session_cookie(user)
        from django.db import connections

        connections.close_all()
        proc = start_gunicorn(var, args.port, token, case.pk)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
        page_headers = {"Cookie": cookie, "Accept": "text/html"}
        api_headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        for p in range(1, 4):  # warm-up
            timed(conn, "GET", f"/cases/{case.pk}/?page={p}", page_headers)
        target = Target(conn, page_headers, api_headers, case.pk, pages, image_pages, with_findings, faces)
        if args.reuse:
            # A restarted PostgreSQL starts with empty shared buffers (seeding leaves them full): one unrecorded
            # quarter-size pass first, so both ways measure a server that has been serving.
            measure(target, args.requests // 4, random.Random(args.seed + 2))
        results = measure(target, args.requests, rng)
        conn.close()
        return {"items": args.items, "kinds": kinds, "detections": detections, "alerts": 500,
                "search_data": search_data, "load_average": [round(x, 2) for x in os.getloadavg()],
                "seed_s": seed_s, "reused_seed": args.reuse, "seed": args.seed, "media_rows": MediaItem.objects.count(),
                "latency": results}
    finally:
        stop_gunicorn(proc)
        from django.db import connections

        connections.close_all()
        services_down(var)


def table(r: dict[str, Any]) -> str:
    names = {"case_page": "Case page, random page (48 cards + badges + activity chart)",
             "case_page_images": "Case page filtered to images", "alerts_inbox": "Alerts inbox (new, this case)",
             "media_page": "Media page of an item with detections (incl. similar-item searches)",
             "similar_search_api": "Similar-face search API, k=20",
             "transcripts_text": "Transcript search page, keyword (full text), all visible cases",
             "transcripts_text_case": "Transcript search page, keyword, one case",
             "transcripts_semantic": "Transcript search page, semantic (MiniLM query embedding + vector search)",
             "transcripts_hybrid": "Transcript search page, hybrid (full text + semantic, RRF)",
             "sound_events_type": "Sound-event search page, filtered by event type, random page",
             "sound_events_type_score": "Sound-event search page, type + min score, by score, one case",
             "similar_sounds": "\"Sounds like this\" page (1024-d segment vectors, k=30)"}
    lines = ["| Request | n | p50 ms | p95 ms | mean ms | max ms |", "|---|---|---|---|---|---|"]
    for key, label in names.items():
        s = r["latency"].get(key)
        if s is None:
            continue
        lines.append(f"| {label} | {s['n']} | {s['p50_ms']} | {s['p95_ms']} | {s['mean_ms']} | {s['max_ms']} |")
    return "\n".join(lines)


def write_own_page(result: dict[str, Any]) -> None:
    """docs/benchmarks/case_page.json + .md: this run alone (platform.md keeps the combined record)."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"
    (docs / "case_page.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    m = result["machine"]
    lines = ["# Investigator pages and search at 10,000 items / 100,000 detections (issue 9)", "",
             f"Command: `{result['command']}`", "",
             f"Machine: {m.get('cpus')} CPUs ({m.get('cpu_model')}), {m.get('memory_gb')} GB RAM, "
             f"Python {m.get('python')}, {m.get('note')}. Run at {result['run_at']}. Server: gunicorn, 1 gthread "
             "worker × 4 threads, embedded PostgreSQL on a unix socket; sequential requests over one keep-alive "
             "connection; client-side loopback latency (an upper bound of server time).", "",
             result["table_md"], ""]
    lines += [f"- {note}" for note in result["notes"]]
    (docs / "case_page.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--detections", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--var", type=Path, default=Path("/tmp/mmsec-bench-case"))
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--segments", type=int, default=100_000, help="transcript segments (with MiniLM vectors)")
    parser.add_argument("--sound-events", type=int, default=100_000,
                        help="audio events, each with one 1024-d segment vector")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the case an earlier run seeded in --var (same sizes and seed) instead of seeding")
    args = parser.parse_args()
    result = run(args)
    result.update({"command": "python " + " ".join(["bench/case_page.py", *sys.argv[1:]]), "machine": machine(),
                   "run_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "table_md": table(result),
                   "notes": ["Target (issue 9): case page and search results p95 ≤ 300 ms server time with 10,000 "
                             "items and 100,000 detections. Client-side loopback times are an upper bound.",
                             f"Detections seeded: {result['detections']}"
                             + (" (by an earlier run in the same state dir: --reuse)." if args.reuse else "."),
                             f"Search data: {json.dumps(result['search_data'])}.",
                             f"Load average (1/5/15 min) at the end of the run: {result['load_average']}."]})
    write_results("case_page", result)
    write_own_page(result)
    print(result["table_md"])


if __name__ == "__main__":
    main()
