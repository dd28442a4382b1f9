"""``make run``: embedded services + migrations + web server + one Celery worker + Celery beat.

Ctrl-C (SIGINT) or SIGTERM stops the children cleanly (warm shutdown), then the
embedded Redis and PostgreSQL, so nothing is left running and data under
``var/`` survives for the next start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mmsec_site import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def all_queues() -> list[str]:
    """default + ``cpu.<plugin>`` and ``gpu.<plugin>`` for every installed plugin (one worker serves all)."""
    from retrieval.plugin_registry import get_registry

    queues = ["default"]
    for name in sorted(get_registry().plugins):
        queues += [f"cpu.{name}", f"gpu.{name}"]
    return queues


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], check=True, cwd=BASE_DIR)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mmsec_site.settings")
    port = os.environ.get("MMSEC_PORT", "8000")
    host = os.environ.get("MMSEC_HOST", "127.0.0.1")
    use_embedded = not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"))
    var = embedded.default_var_dir()
    if use_embedded:
        print(f"Starting embedded PostgreSQL + Redis (data in {var}) ...", flush=True)
        embedded.up(var)
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        _manage("migrate", "--noinput")
        _manage("ensure_admin")
        _manage("sync_plugins", "--enable-defaults")
        queues = ",".join(all_queues())
        py = sys.executable
        children.append(subprocess.Popen(
            [py, "-m", "gunicorn", "mmsec_site.wsgi:application", "-b", f"{host}:{port}", "-k", "gthread",
             "-w", os.environ.get("MMSEC_WEB_WORKERS", "2"), "--threads", "8", "--timeout", "900",
             "--access-logfile", "-"],
            cwd=BASE_DIR,
        ))
        children.append(subprocess.Popen(
            [py, "-m", "celery", "-A", "mmsec_site", "worker", "-Q", queues, "-c",
             os.environ.get("MMSEC_WORKER_CONCURRENCY", "1"), "-n", "mmsec-all@%h", "--without-gossip",
             "--without-mingle", "-l", "INFO"],
            cwd=BASE_DIR,
        ))
        children.append(subprocess.Popen(
            [py, "-m", "celery", "-A", "mmsec_site", "beat", "-l", "INFO", "-s", str(var / "celerybeat-schedule")],
            cwd=BASE_DIR,
        ))
        print(f"\nmmsec is running at http://{host}:{port}/  (worker queues: {queues})\nPress Ctrl-C to stop.\n",
              flush=True)
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    print(f"process {child.args[2]} exited with {child.returncode}; stopping", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if use_embedded:
            embedded.down(var)
        print("mmsec stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
