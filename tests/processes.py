"""Helpers for tests that start real server processes: a free loopback port, and the
child processes of a process."""

from __future__ import annotations

import contextlib
import socket
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def children(pid: int, expect: int) -> list[int]:
    """The child processes of `pid`, once there are `expect` of them (gunicorn forks its
    workers one after another, and the first may answer before the last is up), waiting
    at most 10 s. Read per thread: a child forked by any thread of `pid` counts."""
    ends = time.monotonic() + 10
    while True:
        pids = []
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids += [int(p) for p in task.read_text().split()]
        if len(pids) >= expect or time.monotonic() > ends:
            return pids
        time.sleep(0.05)
