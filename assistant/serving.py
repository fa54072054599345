"""Production serving: gunicorn with the app (and its spaCy pipeline) built once in the
master, threaded workers for many open event streams, and one webhook delivery process.

Why these choices:

* `preload_app`: the master builds the app and loads the pipeline before forking, so
  workers share its memory copy-on-write and a missing model fails before any fork.
* Slow clients cost a buffer, not a thread: each worker reads every request in full in
  its event loop, within deadlines, before a thread serves it, and bounds the
  connections of each client address (`slow_clients.py`).
* `gthread` workers: an open SSE stream holds one thread (it polls the events table and
  sleeps), so threads per worker bound the streams per worker; a thread is cheap next to
  a process, and the extraction itself is CPU work the GIL would serialise in a
  cooperative worker anyway.
* The webhook worker runs in one process, never once per gunicorn worker, under a small
  supervisor that `trustline serve` forks before gunicorn starts; the supervisor
  restarts it if it dies, and gunicorn's `on_exit` hook stops both.
* Shutdown (SIGTERM or SIGINT to the master): workers stop accepting, answer what is in
  flight, then exit, closing their open event streams (clients reconnect and resume with
  Last-Event-ID); `graceful_timeout` bounds the whole.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from .slow_clients import OPEN_FILES_SPARE, PreReadingThreadWorker, ReadLimits, raise_open_files

log = logging.getLogger(__name__)

# Set in a gunicorn worker when it is told to stop; open event streams end on it.
SHUTTING_DOWN = threading.Event()
STOP_WEBHOOKS_SECONDS = 30.0  # a clean stop lets attempts in flight finish first

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Traffic:
    """What a worker is serving now: requests in flight (not streams) and open streams."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.streams = 0

    def add(self, *, requests: int = 0, streams: int = 0) -> None:
        with self.lock:
            self.requests += requests
            self.streams += streams


TRAFFIC = Traffic()
EXIT_CHECK_SECONDS = 0.05
WORKER_CONNECTIONS = 4096  # per worker, open files permitting (see run)


class StreamingThreadWorker(PreReadingThreadWorker):
    """gunicorn's threaded worker, reading each request before a thread takes it
    (`slow_clients.py`), whose graceful stop does not wait for event streams.

    On SIGTERM it stops accepting as usual; once nothing but open streams is left (every
    other request answered, every write committed) it exits, closing the streams. A
    stream only reads, and its client reconnects with Last-Event-ID, so nothing is lost;
    without this, a stream would hold the worker until its next heartbeat.
    """

    def handle_exit(self, sig: int, frame: Any) -> None:
        SHUTTING_DOWN.set()
        super().handle_exit(sig, frame)
        threading.Thread(target=self._exit_when_only_streams, daemon=True).start()

    def handle_quit(self, sig: int, frame: Any) -> None:
        # The quick stop (SIGINT, SIGQUIT) drops what is in flight, as gunicorn's does;
        # a plain sys.exit would wait for the threads still serving streams.
        SHUTTING_DOWN.set()
        self.alive = False
        self.tpool.shutdown(wait=False)
        self.cfg.worker_int(self)
        logging.shutdown()
        os._exit(0)

    def _exit_when_only_streams(self) -> None:
        quiet = 0
        while True:
            time.sleep(EXIT_CHECK_SECONDS)
            with TRAFFIC.lock:
                only_streams = (
                    TRAFFIC.streams > 0
                    and TRAFFIC.requests == 0
                    and self.nr_conns <= TRAFFIC.streams
                )
            if TRAFFIC.streams == 0 and TRAFFIC.requests == 0:
                return  # gunicorn's own graceful stop ends the worker
            # Twice in a row: a connection accepted just before the stop is counted
            # by gunicorn before it reaches the app.
            quiet = quiet + 1 if only_streams else 0
            if quiet >= 2:
                logging.shutdown()
                os._exit(0)


class EndStreamsOnShutdown:
    """WSGI middleware: counts requests and streams for the worker's graceful stop, and
    ends an event stream after its next message once the worker is stopping."""

    def __init__(
        self,
        app: WSGIApp,
        stopping: threading.Event = SHUTTING_DOWN,
        traffic: Traffic = TRAFFIC,
    ) -> None:
        self.app = app
        self.stopping = stopping
        self.traffic = traffic

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        streaming = False

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            nonlocal streaming
            streaming = any(
                k.lower() == "content-type" and v.startswith("text/event-stream")
                for k, v in headers
            )
            return start_response(status, headers, *exc)

        self.traffic.add(requests=1)
        try:
            body = self.app(environ, start)
        except BaseException:
            self.traffic.add(requests=-1)
            raise
        if streaming:
            self.traffic.add(requests=-1, streams=1)
            return self._stream(body)
        return self._respond(body)

    def _respond(self, body: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from body
        finally:
            _close(body)
            self.traffic.add(requests=-1)

    def _stream(self, body: Iterable[bytes]) -> Iterator[bytes]:
        try:
            for chunk in body:
                yield chunk
                if self.stopping.is_set():
                    return
        finally:
            _close(body)
            self.traffic.add(streams=-1)


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


class TrustlineServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application serving an app that is already built."""

    def __init__(
        self, app: Flask, options: dict[str, Any], read_limits: ReadLimits | None = None
    ) -> None:
        self.application = app
        self.options = options
        self.read_limits = read_limits or ReadLimits()  # the workers read it
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return EndStreamsOnShutdown(self.application)


def gunicorn_options(
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    graceful_timeout: int,
    on_exit: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """The gunicorn configuration `trustline serve` runs with."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options: dict[str, Any] = {
        "bind": [bind],
        "workers": workers,
        "threads": threads,
        "worker_class": StreamingThreadWorker,
        # Every open stream is a connection, and a slow client's connection costs only
        # a buffer (slow_clients.py): many may be open while all threads are busy.
        "worker_connections": max(WORKER_CONNECTIONS, threads * 4),
        "preload_app": True,
        "graceful_timeout": graceful_timeout,
        # gthread workers notify the master from their main loop, so a long stream does
        # not count as a hung worker; this only catches a stuck loop.
        "timeout": 60,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "trustline",
    }
    if on_exit is not None:
        options["on_exit"] = on_exit
    return options


# -- the webhook delivery process ----------------------------------------------------


WEBHOOK_PROCESS_NAME = "trustline-hooks"  # its name in ps/top (/proc/<pid>/comm)
SUPERVISOR_NAME = "trustline-watch"  # the process that restarts it
RESTART_PAUSE_SECONDS = (1.0, 30.0)  # first and longest pause before a restart
HEALTHY_AFTER_SECONDS = 60.0  # a process that ran this long restarts after the first pause
SUPERVISE_POLL_SECONDS = 0.2


class WebhookProcess:
    """The one webhook delivery process of `trustline serve`, restarted if it dies.

    The master forks a small supervisor before gunicorn starts (so it inherits none of
    gunicorn's listening sockets, signal handlers or threads), and the supervisor forks
    the delivery process and waits for it. If it dies (a crash, the OOM killer, a
    SIGKILL), the supervisor logs it and forks a new one after a pause that doubles
    while it keeps dying young. Nothing is lost in between: the deliveries are in the
    database and an unfinished claim runs out and is taken again.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.pid: int | None = None  # the supervisor's

    def start(self) -> None:
        """Fork the supervisor (if TRUSTLINE_WEBHOOK_WORKER is on)."""
        if not self.app.config.get("TRUSTLINE_WEBHOOK_WORKER"):
            return
        self.pid = _fork(SUPERVISOR_NAME, _supervise, self.app, os.getpid())

    def stop(self, timeout: float = STOP_WEBHOOKS_SECONDS) -> None:
        """Stop the supervisor and, through it, the delivery process (which finishes its
        attempts in flight first); SIGKILL after `timeout`."""
        if self.pid is not None:
            pid, self.pid = self.pid, None
            stop_process(pid, timeout)


def _supervise(app: Flask, master: int) -> None:
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    pause = RESTART_PAUSE_SECONDS[0]
    while not stopping.is_set():
        started = time.monotonic()
        try:
            child = _fork(WEBHOOK_PROCESS_NAME, _deliver_until_stopped, app, os.getpid())
        except OSError as exc:  # out of memory or processes, likely what killed the last
            log.error("cannot start the webhook process (%s); trying again in %.0f s", exc, pause)
            stopping.wait(pause)
            pause = min(pause * 2, RESTART_PAUSE_SECONDS[1])
            continue
        while not os.waitpid(child, os.WNOHANG)[0]:
            if stopping.is_set() or os.getppid() != master:  # told to stop, or orphaned
                # The master's stop waits STOP_WEBHOOKS_SECONDS for us: end before it.
                stop_process(child, max(1.0, STOP_WEBHOOKS_SECONDS - 2))
                return
            stopping.wait(SUPERVISE_POLL_SECONDS)
        if stopping.is_set():
            return
        lived = time.monotonic() - started
        pause = RESTART_PAUSE_SECONDS[0] if lived >= HEALTHY_AFTER_SECONDS else pause
        log.error(
            "webhook process %s ended unexpectedly after %.0f s; restarting in %.0f s "
            "(deliveries wait in the database meanwhile)",
            child,
            lived,
            pause,
        )
        stopping.wait(pause)
        pause = min(pause * 2, RESTART_PAUSE_SECONDS[1])


def _fork(name: str, run: Callable[..., None], *args: Any) -> int:
    """Fork a process named `name` (in ps and top) that runs `run(*args)` and exits
    (status 1, logged, if it raised); returns its pid in the parent."""
    pid = os.fork()
    if pid:
        return pid
    status = 0
    try:
        _name_process(name)
        run(*args)
    except BaseException:
        log.exception("%s failed", name)
        status = 1
    finally:
        os._exit(status)


def _name_process(name: str) -> None:
    """Set this process's name as ps and top show it (Linux; elsewhere a no-op)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name[:15])


def _deliver_until_stopped(app: Flask, parent: int) -> None:
    from .webhooks.worker import Worker

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def watch_parent() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:  # the master died (even SIGKILL): stop too
                stop.set()

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()
    Worker(app).run(stop)


def stop_process(pid: int, timeout: float = STOP_WEBHOOKS_SECONDS) -> None:
    """SIGTERM `pid`, wait up to `timeout` seconds for it to end, then SIGKILL it."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # already reaped (gunicorn reaps every child)
            return
        if done:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def run(
    app: Flask, *, host: str, port: int, workers: int, threads: int, graceful_timeout: int
) -> None:
    """Serve `app` with gunicorn until the master is told to stop."""
    # The event streams keep threads free for other requests (stream.stream_limit).
    app.config["TRUSTLINE_SERVE_THREADS"] = threads
    webhooks = WebhookProcess(app)
    webhooks.start()

    def on_exit(_arbiter: Any) -> None:
        webhooks.stop()

    options = gunicorn_options(
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        graceful_timeout=graceful_timeout,
        on_exit=on_exit,
    )
    # Each connection is a file: raise the soft limit (inherited by the workers) so that
    # a crowd of slow clients meets TRUSTLINE_MAX_CONNECTIONS_PER_CLIENT, not EMFILE.
    wanted = options["worker_connections"] + OPEN_FILES_SPARE
    options["worker_connections"] = min(
        options["worker_connections"], raise_open_files(wanted) - OPEN_FILES_SPARE
    )
    try:
        TrustlineServer(app, options, ReadLimits.from_config(app.config)).run()
    finally:
        on_exit(None)  # also when gunicorn could not start (the port taken, say)
