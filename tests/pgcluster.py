"""A throwaway PostgreSQL cluster for the tests: Debian's initdb and pg_ctl into a
temporary folder, a free loopback port, the socket in the same folder, stopped and
removed when the session ends (a finaliser, and atexit for a run cut short).

As root (CI), the server runs as an unprivileged user: PostgreSQL refuses to run as
root. The cluster is tuned for speed, not durability (fsync off): it lives seconds.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import quote

DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SUPERUSER = "trustline_test"
DATABASE = "trustline"
START_TRIES = 3  # another process may take the free port between the probe and the bind
START_TIMEOUT = 30  # seconds pg_ctl waits for the server to accept connections


class NoPostgres(RuntimeError):
    """The PostgreSQL server binaries are not installed."""


def binaries() -> Path:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    candidates = sorted(
        (p.parent for p in DEBIAN_BINARIES.glob("*/bin/initdb") if (p.parent / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise NoPostgres(
            "needs Debian's postgresql (initdb and pg_ctl on PATH or under "
            f"{DEBIAN_BINARIES}/*/bin; `make postgres` installs it)"
        )
    return candidates[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_user() -> pwd.struct_passwd | None:
    """Whom the server runs as: None (ourselves) unless we are root, then Debian's
    `postgres` user or, without it, `nobody`."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise NoPostgres("running as root and neither a `postgres` nor a `nobody` user exists")


@dataclass
class Cluster:
    root: Path
    bin: Path
    port: int
    password: str
    user: pwd.struct_passwd | None
    running: bool = False

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = DATABASE) -> str:
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{database}"
        )

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        who = self.user
        # A new session: a Ctrl-C in the terminal reaches our process group, and the
        # server must be stopped by stop() (which a KeyboardInterrupt runs), not by it.
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
            user=None if who is None else who.pw_uid,
            group=None if who is None else who.pw_gid,
            extra_groups=None if who is None else [],
        )

    def _check(self, result: subprocess.CompletedProcess[str], what: str) -> None:
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} failed:\n{result.stdout}{result.stderr}{tail}")

    def init(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
            os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        pwfile.chmod(0o600)
        result = self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )
        pwfile.unlink()
        self._check(result, "initdb")

    def start(self) -> None:
        options = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=60",
                "-c shared_buffers=32MB",
            ]
        )
        result = self._run(
            "pg_ctl",
            "--pgdata",
            str(self.data),
            "--log",
            str(self.root / "server.log"),
            "--options",
            options,
            "--wait",
            "--timeout",
            str(START_TIMEOUT),
            "start",
        )
        self.running = result.returncode == 0
        self._check(result, "pg_ctl start")

    def stop(self) -> None:
        """Stop the server (immediate: nothing in it is kept) and remove the folder."""
        if self.running or (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "--pgdata", str(self.data), "--mode", "immediate", "--wait", "stop")
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)


_CLUSTERS: list[Cluster] = []
_LOCK = threading.Lock()


def _stop_all() -> None:
    with _LOCK:
        clusters, _CLUSTERS[:] = list(_CLUSTERS), []
    for cluster in clusters:
        cluster.stop()


atexit.register(_stop_all)


def _exit_on_sigterm() -> None:
    """A SIGTERM ends the run as a Ctrl-C does (pytest tears its fixtures down, atexit
    runs); Python's default for SIGTERM ends the process at once, without either."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def handler(signum: int, _frame: FrameType | None) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, handler)


def start_cluster() -> Cluster:
    """initdb and start a cluster, with database `trustline` created; stop it with
    `cluster.stop()` (atexit does it too)."""
    import psycopg  # the tests' only import of it outside the PostgreSQL tests

    bin_dir = binaries()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="trustline-pg-"))
    cluster = Cluster(root, bin_dir, 0, secrets.token_urlsafe(18), user)
    with _LOCK:
        _CLUSTERS.append(cluster)
    _exit_on_sigterm()
    try:
        cluster.init()
        for attempt in range(START_TRIES):
            cluster.port = free_port()
            try:
                cluster.start()
                break
            except RuntimeError:
                if attempt == START_TRIES - 1:
                    raise
        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def create_database(cluster_url: str, name: str) -> str:
    """A new empty database on the cluster of `cluster_url`; returns its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(cluster_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = cluster_url.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """`start_cluster` for a block."""
    started = start_cluster()
    try:
        yield started
    finally:
        with _LOCK:
            if started in _CLUSTERS:
                _CLUSTERS.remove(started)
        started.stop()
