"""Load: how many agents one machine holds through `trustline serve` (issue 6).

    .venv/bin/python benchmarks/load.py                 # about a minute on 2 cores
    .venv/bin/python benchmarks/load.py --agents 20 --listeners 200 --seconds 30 --json
    .venv/bin/python benchmarks/load.py --rate 60     # paced: latencies at 60 notes/s

In one run, on loopback only, with a temporary database:

1. Baseline: `Extractor.extract_many` in this process over the same notes (notes/s).
2. `trustline serve` (gunicorn, the settings' defaults unless --workers/--threads) as a
   subprocess, one webhook subscription to a receiver in this process, --customers
   customers. --agents agents each hold a sidebar stream on one customer (signed in with
   a launch token as a host would; it sends the re-rendered profile panel) and post
   notes (one at a time, through the API) to random customers for --seconds: back to
   back by default, so the server is saturated and notes/s is its capacity (latencies
   then include the queue), or at --rate notes/s in all (random gaps), for latencies
   at a given load;
   --listeners more clients (integrations, each with its own API key) each hold a
   stream of every event as JSON on a customer. Every stream starts after the last
   event before the load, so each must see every event of its customer.
3. Drain (at most --drain-seconds): until every stream and the receiver have every event.

Reported: notes/s through HTTP and its ratio to the baseline; POST latency (request to
the stored answer) p50 / p95 / p99; stream latency (POST sent to the note's first event
arriving on a stream, over every stream of that customer; on a sidebar, the first panel
that shows it) p50 / p99, and its p99 over the sidebars alone; webhook lag (POST
answered to the receipt of the note's first message) p50 / p99; errors (failed or
non-2xx requests, streams that broke); lost events (events of a customer a stream of
that customer never got, or a sidebar never showed, summed over streams, plus events
the receiver never got);
server CPU time per note during the load (all server processes, the webhook process
included, user + system: robust to a noisy machine where wall times are not), the
webhook process's part of it, and the benchmark's own share of the CPU used; peak
memory of the server processes (sum of RSS, so shared pages count once per process, and
sum of PSS).
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import random
import secrets
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.auth import hash_key, new_key  # noqa: E402
from assistant.settings import extractor_options  # noqa: E402
from assistant.sidebar import launch  # noqa: E402
from assistant.store.sqlite.db import connect, migrate, row, rows  # noqa: E402
from assistant.webhooks import subscriptions  # noqa: E402
from nlp import Extractor  # noqa: E402

LAUNCH_ISSUER = "load"
LAUNCH_AUDIENCE = "trustline-sidebar"  # the TRUSTLINE_LAUNCH_AUDIENCE default
CHANNELS = ["email", "sms", "phone calls", "post", "whatsapp"]
INTERESTS = ["hiking boots", "chess sets", "garden tools", "running shoes", "board games"]
TIMES = ["mornings", "evenings", "weekends", "after 6pm"]
COMPLAINTS = ["Parcel arrived late, very unhappy.", "Charged twice for the order.", ""]


def notes(count: int, seed: int = 0) -> list[str]:
    rnd = random.Random(seed)
    return [
        f"Prefers {rnd.choice(CHANNELS)}, best reached {rnd.choice(TIMES)}. "
        f"Interested in {rnd.choice(INTERESTS)}. {rnd.choice(COMPLAINTS)}".strip()
        for _ in range(count)
    ]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Run:
    """Shared state of one run: times per note, what each stream got, errors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: dict[int, float] = {}  # note id -> wall time the POST was sent
        self.acked: dict[int, float] = {}  # note id -> wall time it was answered
        self.post_ms: list[float] = []
        self.stream_ms: list[float] = []
        self.errors: list[str] = []
        self.arrivals: list[tuple[int, float]] = []  # (note id, wall time) on streams
        self.hooks: dict[int, float] = {}  # event id -> receipt wall time
        self.hook_notes: list[tuple[int, float]] = []
        self.stop = threading.Event()  # streams
        self.stop_posting = threading.Event()  # agents
        self.posted = 0

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def note_of(event: dict[str, Any]) -> int | None:
    data = event.get("data") or {}
    for key in ("fact", "proposal", "record"):
        prov = (data.get(key) or {}).get("provenance") or {}
        if "note_id" in prov:
            return int(prov["note_id"])
        if "note_id" in (data.get(key) or {}):
            return int(data[key]["note_id"])
    return None


class Stream:
    """One client's event stream (HTTP/1.0, so the body is the raw SSE text): an
    integration's (API key; every event as JSON) or an agent's sidebar (session cookie;
    the re-rendered profile panel, whose id is the newest event it shows)."""

    def __init__(
        self, run: Run, port: int, key: str, customer: str, after: int, cookie: str = ""
    ) -> None:
        self.run_state, self.port, self.key, self.cookie = run, port, key, cookie
        self.customer, self.last = customer, after
        self.ids: set[int] = set()
        self.notes: set[int] = set()
        self.panels: list[tuple[int, float]] = []  # sidebar: (panel's event id, time)
        self.opened = False
        self.sock: socket.socket | None = None
        self.buf = b""
        self.header_done = False

    def connect(self) -> socket.socket:
        """(Re)open the stream after the last event seen; returns the socket."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        sock.sendall(
            (
                f"GET /customers/{self.customer}/stream HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                + (
                    f"Cookie: {self.cookie}\r\n"
                    if self.cookie
                    else f"Authorization: Bearer {self.key}\r\n"
                )
                + f"Last-Event-ID: {self.last}\r\n\r\n"
            ).encode()
        )
        sock.setblocking(False)
        self.sock, self.buf, self.header_done = sock, b"", False
        return sock

    def feed(self, data: bytes, now: float) -> bool:
        """Take bytes read from the socket; False when the stream must be reopened."""
        self.buf += data
        if not self.header_done:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return True
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                self.run_state.error(f"stream {self.customer}: {head[:40]!r}")
                return False
            self.header_done, self.buf, self.opened = True, rest, True
        *messages, self.buf = self.buf.split(b"\n\n")
        for message in messages:
            self._message(message.decode(), now)
        return True

    def _message(self, message: str, now: float) -> None:
        if self.cookie:  # a sidebar panel: "id: N", "event: profile", HTML data lines
            lines = message.splitlines()
            ids = [int(line[4:]) for line in lines if line.startswith("id: ")]
            if ids and "event: profile" in lines:
                self.last = max(self.last, ids[0])
                with self.run_state.lock:
                    self.panels.append((ids[0], now))
            return
        data = "".join(line[6:] for line in message.splitlines() if line.startswith("data: "))
        if not data:
            return
        event = json.loads(data)
        if "id" not in event:
            return
        self.last = max(self.last, int(event["id"]))
        note = note_of(event)
        with self.run_state.lock:  # the main thread reads `ids` to count what is missing
            self.ids.add(int(event["id"]))
            if note is not None and note not in self.notes:
                self.notes.add(note)
                self.run_state.arrivals.append((note, now))


def read_streams(run: Run, streams: list[Stream]) -> None:
    """Hold every stream open in one thread (as a real client fleet costs the server the
    same, without costing this benchmark hundreds of threads); reopen ended ones."""
    selector = selectors.DefaultSelector()
    for s in streams:
        selector.register(s.connect(), selectors.EVENT_READ, s)
    reopen: list[tuple[float, Stream]] = []  # (when, stream): a refused stream waits
    while not run.stop.is_set():
        for key, _ in selector.select(timeout=0.1):
            stream: Stream = key.data
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError as exc:
                run.error(f"stream {stream.customer}: {exc!r}")
                data = b""
            if data and stream.feed(data, time.time()):
                continue
            # Ended (its max life: reopen at once) or failed (in a moment), after the
            # last event it saw.
            selector.unregister(sock)
            sock.close()
            reopen.append((time.monotonic() + (0.0 if stream.header_done else 0.5), stream))
        now = time.monotonic()
        for item in [r for r in reopen if r[0] <= now]:
            reopen.remove(item)
            selector.register(item[1].connect(), selectors.EVENT_READ, item[1])
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    selector.close()


def sidebar_session(port: int, secret: str, agent_id: str) -> str:
    """Sign an agent into the sidebar as a host would; returns the session's Cookie."""
    token = launch.sign(
        secret, issuer=LAUNCH_ISSUER, audience=LAUNCH_AUDIENCE, agent_id=agent_id, role="agent"
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", f"/sidebar/launch?token={token}")
        resp = conn.getresponse()
        resp.read()
        cookies = [v.split(";", 1)[0] for k, v in resp.getheaders() if k.lower() == "set-cookie"]
    finally:
        conn.close()
    if resp.status != 303 or not cookies:
        raise SystemExit(f"sidebar launch failed: {resp.status}")
    return "; ".join(cookies)


def receiver(run: Run) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections alive, as a CRM's server would

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            now = time.time()
            data = body.get("data", {})
            with run.lock:
                run.hooks.setdefault(int(data["event_id"]), now)
                note = note_of({"data": data})
                if note is not None:
                    run.hook_notes.append((note, now))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def agent(
    run: Run,
    port: int,
    key: str,
    customers: list[str],
    texts: list[str],
    seed: int,
    interval: float = 0.0,
) -> None:
    """Post notes one at a time: back to back, or one every `interval` seconds on average
    (random gaps; an agent that falls behind does not catch up in a burst)."""
    rnd = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    next_at = time.monotonic() + (rnd.uniform(0, interval) if interval else 0.0)
    while not run.stop_posting.is_set():
        if interval:
            if run.stop_posting.wait(max(0.0, next_at - time.monotonic())):
                break
            next_at = max(next_at, time.monotonic()) + rnd.expovariate(1 / interval)
        customer = rnd.choice(customers)
        body = json.dumps({"text": rnd.choice(texts), "agent": f"agent-{seed}", "source": "load"})
        sent = time.time()
        try:
            conn.request("POST", f"/api/v1/customers/{customer}/notes", body, headers)
            resp = conn.getresponse()
            answer = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            run.error(f"POST: {exc!r}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        done = time.time()
        if resp.status != 201:
            run.error(f"POST {resp.status}: {answer[:80]!r}")
            continue
        note = int(json.loads(answer)["note"]["id"])
        with run.lock:
            run.sent[note], run.acked[note] = sent, done
            run.post_ms.append((done - sent) * 1000)
            run.posted += 1
    conn.close()


def children(pid: int) -> list[int]:
    """The descendants of `pid`, whichever of their threads forked them: the workers,
    the webhook supervisor and, below it, the webhook delivery process."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids = [int(p) for p in task.read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *children(kid)]
    return found


def server_memory(pid: int) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) in MB of `pid` and its descendants."""
    pids = [pid, *children(pid)]
    if len(pids) == 1:
        return 0.0, 0.0
    rss = pss = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024
        except OSError:
            continue
    return rss, pss


def server_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by `pid` and its descendants, by process
    name (/proc/<pid>/comm: `trustline-hooks` is the webhook process)."""
    used: dict[str, float] = {}
    for p in [pid, *children(pid)]:
        try:
            name = Path(f"/proc/{p}/comm").read_text().strip()
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        used[name] = used.get(name, 0.0) + ticks / os.sysconf("SC_CLK_TCK")
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="notes/s for all agents together (0: each posts back to back, saturating)",
    )
    parser.add_argument("--drain-seconds", type=float, default=20.0)
    parser.add_argument("--baseline-notes", type=int, default=600)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr))

    texts = notes(200)
    say("baseline: extract_many in this process ...")
    extractor = Extractor.load(**extractor_options())
    list(extractor.extract_many(texts[:50]))  # warm up
    batch = [texts[i % len(texts)] for i in range(args.baseline_notes)]
    started = time.perf_counter()
    for _ in extractor.extract_many(batch):
        pass
    baseline = len(batch) / (time.perf_counter() - started)
    del extractor

    run = Run()
    hooks = receiver(run)
    tmp = tempfile.TemporaryDirectory(prefix="trustline-load-")
    db_path = Path(tmp.name) / "trustline.db"
    # One key per agent and per listener (each a client of its own), and one to set up.
    keys = [new_key() for _ in range(args.agents + args.listeners + 1)]
    launch_secret = secrets.token_urlsafe(32)  # the "host" that signs the agents in
    db = connect(db_path)
    migrate(db)
    subscriptions.create(db, f"http://127.0.0.1:{hooks.server_port}/", ["*"], actor="load")
    port = free_port()
    env = {
        **os.environ,
        "TRUSTLINE_DATABASE": str(db_path),
        "TRUSTLINE_API_KEY_HASHES": ",".join(hash_key(k) for k in keys),
        "TRUSTLINE_DEMO": "0",
        "TRUSTLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
        "TRUSTLINE_LAUNCH_SECRETS": f"{LAUNCH_ISSUER}={launch_secret}",
        "TRUSTLINE_SECRET_KEY": secrets.token_urlsafe(32),
    }
    if args.workers:
        env["TRUSTLINE_WORKERS"] = str(args.workers)
    if args.threads:
        env["TRUSTLINE_THREADS"] = str(args.threads)
    say(f"baseline {baseline:.1f} notes/s; starting trustline serve on 127.0.0.1:{port} ...")
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(Path(tmp.name) / "serve.log").open("wb"),
    )
    peak = [0.0, 0.0]

    def sample() -> None:
        while server.poll() is None:
            rss, pss = server_memory(server.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.25)

    try:
        ends = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                if time.monotonic() > ends or server.poll() is not None:
                    raise SystemExit("trustline serve did not start") from None
                time.sleep(0.2)
        threading.Thread(target=sample, daemon=True).start()
        customers = [f"load-{i}" for i in range(args.customers)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for c in customers:
            conn.request(
                "PUT", f"/api/v1/customers/{c}", "{}",
                {"Authorization": f"Bearer {keys[-1]}", "Content-Type": "application/json"},
            )  # fmt: skip
            conn.getresponse().read()
        conn.close()
        start_id = int((row(db, "SELECT max(id) AS n FROM events") or {"n": 0})["n"] or 0)
        streams = [  # each agent's sidebar, signed in with a launch token as a host would
            Stream(
                run,
                port,
                keys[i],
                customers[i % len(customers)],
                start_id,
                cookie=sidebar_session(port, launch_secret, f"agent-{i}"),
            )
            for i in range(args.agents)
        ] + [
            Stream(run, port, keys[args.agents + i], customers[i % len(customers)], start_id)
            for i in range(args.listeners)
        ]
        reader = threading.Thread(target=read_streams, args=(run, streams), daemon=True)
        reader.start()
        open_by = time.monotonic() + 30
        while not all(s.opened for s in streams) and time.monotonic() < open_by:
            time.sleep(0.05)
        if not all(s.opened for s in streams):
            run.error(f"{sum(not s.opened for s in streams)} streams never opened")
        say(f"{len(streams)} streams open; load for {args.seconds:.0f} s ...")
        interval = args.agents / args.rate if args.rate > 0 else 0.0
        agents = [
            threading.Thread(
                target=agent,
                args=(run, port, keys[i], customers, texts, i, interval),
            )
            for i in range(args.agents)
        ]
        load_started = time.monotonic()
        cpu_started, own_started = server_cpu(server.pid), time.process_time()
        for a in agents:
            a.start()
        time.sleep(args.seconds)
        run.stop_posting.set()
        for a in agents:
            a.join(timeout=60)
        load_time = time.monotonic() - load_started
        cpu_ended = server_cpu(server.pid)
        by_process = {n: t - cpu_started.get(n, 0.0) for n, t in cpu_ended.items()}
        cpu_used = sum(by_process.values())
        hooks_used = by_process.get("trustline-hooks", 0.0)
        own_used = time.process_time() - own_started
        # Drain: every stream has every event of its customer, the receiver every event.
        expected = rows(db, "SELECT id, customer_id, data FROM events WHERE id > ?", [start_id])
        by_customer: dict[str, set[int]] = {}
        for e in expected:
            by_customer.setdefault(e["customer_id"], set()).add(int(e["id"]))
        drain_ends = time.monotonic() + args.drain_seconds

        def missing() -> tuple[int, int]:
            with run.lock:
                lost_streams = sum(
                    # a sidebar shows every event up to its newest panel's id
                    len({i for i in by_customer.get(s.customer, set()) if i > s.last})
                    if s.cookie
                    else len(by_customer.get(s.customer, set()) - s.ids)
                    for s in streams
                )
                lost_hooks = len({int(e["id"]) for e in expected} - set(run.hooks))
            return lost_streams, lost_hooks

        while time.monotonic() < drain_ends and any(missing()):
            time.sleep(0.2)
        lost_streams, lost_hooks = missing()
        run.stop.set()
    finally:
        run.stop.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        hooks.shutdown()
        db.conn.close()

    for note, at in run.arrivals:  # one per (stream, note): its first event there
        if note in run.sent:
            run.stream_ms.append((at - run.sent[note]) * 1000)
    # Sidebars: a note has arrived with the first panel whose id reaches its first event.
    first_event: dict[str, list[tuple[int, int]]] = {}  # customer -> [(event id, note)]
    seen_notes: set[int] = set()
    for e in sorted(expected, key=lambda e: int(e["id"])):
        note = note_of({"data": json.loads(e["data"])})
        if note is not None and note not in seen_notes and note in run.sent:
            seen_notes.add(note)
            first_event.setdefault(e["customer_id"], []).append((int(e["id"]), note))
    sidebar_ms: list[float] = []
    for s in streams:
        if not s.cookie:
            continue
        panels = sorted(s.panels)
        i = 0
        for event_id, note in first_event.get(s.customer, []):
            while i < len(panels) and panels[i][0] < event_id:
                i += 1
            if i < len(panels):
                sidebar_ms.append((panels[i][1] - run.sent[note]) * 1000)
    run.stream_ms += sidebar_ms
    hook_first: dict[int, float] = {}
    for note, at in run.hook_notes:
        hook_first[note] = min(at, hook_first.get(note, at))
    hook_ms = [(at - run.acked[n]) * 1000 for n, at in hook_first.items() if n in run.acked]
    notes_per_s = run.posted / load_time
    result = {
        "agents": args.agents,
        "rate": args.rate or "saturating",
        "listeners": args.listeners,
        "streams": args.agents + args.listeners,
        "seconds": round(load_time, 1),
        "notes": run.posted,
        "notes_per_s": round(notes_per_s, 1),
        "baseline_notes_per_s": round(baseline, 1),
        "ratio": round(notes_per_s / baseline, 2),
        "post_p50_ms": round(pct(run.post_ms, 50), 1),
        "post_p95_ms": round(pct(run.post_ms, 95), 1),
        "post_p99_ms": round(pct(run.post_ms, 99), 1),
        "stream_p50_ms": round(pct(run.stream_ms, 50), 1),
        "stream_p99_ms": round(pct(run.stream_ms, 99), 1),
        "sidebar_p99_ms": round(pct(sidebar_ms, 99), 1),
        "webhook_lag_p50_ms": round(pct(hook_ms, 50), 1),
        "webhook_lag_p99_ms": round(pct(hook_ms, 99), 1),
        "events": len(expected),
        "stream_deliveries": len(run.arrivals) + len(sidebar_ms),
        "errors": len(run.errors),
        "lost_events": lost_streams + lost_hooks,
        "lost_stream_events": lost_streams,
        "lost_webhook_events": lost_hooks,
        "server_cpu_ms_per_note": round(cpu_used * 1000 / max(run.posted, 1), 2),
        "webhook_cpu_ms_per_note": round(hooks_used * 1000 / max(run.posted, 1), 2),
        "client_cpu_share": round(own_used / max(own_used + cpu_used, 1e-9), 2),
        "peak_rss_mb": round(peak[0], 1),
        "peak_pss_mb": round(peak[1], 1),
    }
    if run.errors:
        say("first errors:\n  " + "\n  ".join(run.errors[:5]))
    if args.json:
        print(json.dumps(result))
    else:
        width = max(map(len, result))
        for k, v in result.items():
            print(f"{k:<{width}} : {v}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
