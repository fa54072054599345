"""`GET /customers/<id>/stream`: Server-Sent Events fed from the events table.

The events table (the outbox every write appends to in its own transaction) is the only
source, so a change made by any process (another sidebar, the API, the CLI, a webhook)
reaches every stream. A stream first reads its customer's events after its starting
point from the table, then gets new ones from the process's one reader of the table
(`hub.py`) rather than polling the table itself. Each event carries its id, so a
reconnecting EventSource resumes after `Last-Event-ID`.

Two audiences:

* an integration with an API key (read scope) gets every event as JSON, named by its
  type (`event: consent.changed`, `data: {...}`);
* a sidebar session gets `event: profile` whose data is the re-rendered profile panel
  (what this agent's role may see), which htmx swaps in place (`sse-swap="profile"`).
"""

from __future__ import annotations

import json
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, render_template, request, stream_with_context
from markupsafe import Markup

from .. import services
from ..auth import AuthError, current_principal
from ..db import close_db, get_db
from ..engine import get_policy
from ..store.sqlite import sessions
from ..store.sqlite.db import database_path, pooled
from ..store.sqlite.events import after as events_after
from ..web.inputs import MAX_ROW_ID, MIN_ROW_ID
from ..web.problems import problem
from . import bp
from .config import SidebarConfig, sidebar_config
from .hub import HandedOut, hub_for
from .panels import find_customer, last_event_id, profile_panel
from .session import Agent, csrf_token, current_agent, session_token

EVENTS_PAGE = 500  # events read from the table at once when a stream catches up
GONE_CHECK_SECONDS = 1.0  # how often an idle stream checks that its client is still there
RETRY_MS = 2000  # how long a browser waits before reconnecting
END_EVENT = "closed"  # the sidebar closes its EventSource on this (sse-close)
STREAMS_FULL_RETRY_SECONDS = 5  # Retry-After of a stream refused for the limit


@dataclass(frozen=True, slots=True)
class StreamBounds:
    """How many streams this process holds: in all, per principal, and how many of them
    sidebar sessions may not take (kept for integrations with an API key)."""

    limit: int  # 0: no limit
    per_agent: int  # 0: no limit
    per_key: int  # 0: no limit of its own
    kept_for_keys: int


class StreamSlots:
    """The open streams of this process, counted so that they can be bounded: each holds
    a server thread for its whole life, and threads taken by streams cannot answer notes
    or pages. Counted per principal too (an API key, or a sidebar agent with all its
    sessions), so that a few callers cannot take every slot (issue 12, item 13: three
    anonymous demo sessions held 421 of 448)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open = 0
        self.sessions = 0  # of them, sidebar streams
        self.by_principal: dict[str, int] = {}

    def take(self, bounds: StreamBounds, principal: str, *, session: bool) -> str | None:
        """Count one more open stream for `principal`; None when taken, else why not (a
        sentence naming the setting)."""
        with self._lock:
            if 0 < bounds.limit <= self.open:
                return (
                    f"this server process holds its limit of {bounds.limit} open event "
                    "streams (TRUSTLINE_MAX_STREAMS)"
                )
            if session and bounds.limit > 0:
                room = bounds.limit - bounds.kept_for_keys
                if self.sessions >= room:
                    return (
                        f"sidebar sessions hold {room} open event streams here, all they may: "
                        f"{bounds.kept_for_keys} are kept for API keys "
                        "(TRUSTLINE_STREAMS_KEPT_FOR_KEYS_PERCENT)"
                    )
            own = bounds.per_agent if session else bounds.per_key
            held = self.by_principal.get(principal, 0)
            if own > 0 and held >= own:
                setting = (
                    "TRUSTLINE_MAX_STREAMS_PER_AGENT"
                    if session
                    else "TRUSTLINE_MAX_STREAMS_PER_KEY"
                )
                who = "this agent (all its sidebar sessions)" if session else "this API key"
                return f"{who} holds {held} open event streams here, all it may ({setting})"
            self.open += 1
            self.sessions += int(session)
            self.by_principal[principal] = held + 1
            return None

    def give_back(self, principal: str, *, session: bool) -> None:
        with self._lock:
            self.open -= 1
            self.sessions -= int(session)
            left = self.by_principal.get(principal, 1) - 1
            if left > 0:
                self.by_principal[principal] = left
            else:
                self.by_principal.pop(principal, None)

    def giver(self, principal: str, *, session: bool) -> Callable[[], None]:
        """A function that gives one slot back the first time it is called."""
        slot = [self]

        def give() -> None:
            with suppress(IndexError):  # list.pop is atomic: one caller gets the slot
                slot.pop().give_back(principal, session=session)

        return give


SLOTS = StreamSlots()


def stream_limit(config: Any) -> int:
    """Open streams allowed in this process: TRUSTLINE_MAX_STREAMS, or under `trustline
    serve` (which sets TRUSTLINE_SERVE_THREADS) the threads minus an eighth, at least 4,
    kept for other requests; 0 is no limit."""
    configured = int(config.get("TRUSTLINE_MAX_STREAMS") or 0)
    if configured > 0:
        return configured
    threads = int(config.get("TRUSTLINE_SERVE_THREADS") or 0)
    return max(1, threads - max(4, threads // 8)) if threads > 0 else 0


def stream_bounds(config: Any) -> StreamBounds:
    """This process's stream bounds from the settings (see `stream_limit`)."""
    limit = stream_limit(config)
    percent = int(config.get("TRUSTLINE_STREAMS_KEPT_FOR_KEYS_PERCENT") or 0)
    kept = min(limit - 1, -(-limit * percent // 100)) if limit > 0 and percent > 0 else 0
    return StreamBounds(
        limit=limit,
        per_agent=int(config.get("TRUSTLINE_MAX_STREAMS_PER_AGENT") or 0),
        per_key=int(config.get("TRUSTLINE_MAX_STREAMS_PER_KEY") or 0),
        kept_for_keys=max(0, kept),
    )


def format_event(data: str, *, event: str | None = None, event_id: int | None = None) -> str:
    """One SSE message; multi-line data becomes several `data:` lines."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    lines += [f"data: {line}" for line in (data.splitlines() or [""])]
    return "\n".join(lines) + "\n\n"


def _start_after() -> int | None:
    """Where to resume: Last-Event-ID, else ?after=, else None (only new events).

    Raises ValueError when the one given is not an integer.
    """
    raw = request.headers.get("Last-Event-ID") or request.args.get("after")
    if raw is None or raw == "":
        return None
    value = int(raw)
    if not MIN_ROW_ID <= value <= MAX_ROW_ID:  # SQLite integers are 64-bit
        raise ValueError(f"{raw!r} is out of range")
    return value


@bp.get("/customers/<customer_id>/stream")
def stream(customer_id: str) -> Any:
    viewer: Agent | None = None
    if request.headers.get("Authorization"):
        try:
            principal = current_principal()
        except AuthError as exc:
            return problem(exc.status, exc.code, exc.message)
        if not principal.allows("read"):
            return problem(403, "forbidden", "this API key lacks the 'read' scope")
        holder = principal.subject or principal.name
    else:
        viewer = current_agent()
        if viewer is None:
            return problem(
                401,
                "unauthorized",
                "open the sidebar, or send Authorization: Bearer <api key> (read scope)",
            )
        holder = f"agent:{viewer.issuer}:{viewer.id}"  # all the agent's sessions together
    db = get_db()
    exists = (
        find_customer(db, viewer, customer_id) is not None
        if viewer is not None
        else _exists(db, customer_id)
    )
    if not exists:
        return problem(404, "not_found", f"customer {customer_id!r} not found")
    try:
        after_id = _start_after()
    except ValueError:
        return problem(400, "invalid_request", "Last-Event-ID and 'after' must be integers")
    if after_id is None:
        after_id = last_event_id(db, customer_id)
    session = viewer is not None
    refused = SLOTS.take(stream_bounds(current_app.config), holder, session=session)
    if refused is not None:
        resp = problem(503, "too_many_streams", f"{refused}; retry shortly")
        resp.headers["Retry-After"] = str(STREAMS_FULL_RETRY_SECONDS)
        return resp
    close_db()  # held for the stream's life, it would be one handle per stream
    client = request.environ.get("gunicorn.socket")  # to notice a client that left
    token = session_token() if viewer is not None else None
    events = _events(database_path(current_app), customer_id, after_id, viewer, client, token)
    resp = Response(
        stream_with_context(events),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # The server closes every response it was given.
    resp.call_on_close(SLOTS.giver(holder, session=session))
    return resp


def _json_message(event: dict[str, Any]) -> str:
    """The SSE message of an event for API streams, made once for all of them."""
    message = getattr(event, "message", None)
    if message is None:
        message = format_event(json.dumps(event), event=event["type"], event_id=event["id"])
        if isinstance(event, HandedOut):
            event.message = message  # two streams may both make it: the same text
    return message


def _exists(db: Any, customer_id: str) -> bool:
    try:
        services.get_customer(db, customer_id)
    except services.NotFound:
        return False
    return True


def _events(
    path: str,
    customer_id: str,
    after_id: int,
    viewer: Agent | None,
    client: socket.socket | None = None,
    token: str | None = None,
) -> Iterator[str]:
    config = sidebar_config()
    started = last_write = time.monotonic()
    last = after_id
    sent = SentFacts()  # what this stream sent of each fact
    yield f"retry: {RETRY_MS}\n\n"
    sub = hub_for(path, config.poll_seconds).subscribe(customer_id)
    try:
        pending, more = _backfill(path, customer_id, after_id)
        while True:
            batch = [e for e in pending if int(e["id"]) > last]  # the hub may repeat some
            gone = any(e["type"] == "customer.erased" for e in batch)
            if token is not None and (batch or now_due(last_write, config)) and _ended(path, token):
                yield format_event("session ended", event=END_EVENT)  # a revoked session
                return
            if batch and not gone:
                last = int(batch[-1]["id"])
                if viewer is None:  # one write for the batch: a note makes several events
                    yield "".join(_json_message(event) for event in batch)
                else:
                    yield format_event(_panel(path, viewer, customer_id, sent),
                                       event="profile", event_id=last)  # fmt: skip
                last_write = time.monotonic()
            if gone:
                if viewer is None:
                    data = json.dumps({"type": "customer.erased", "customer_id": customer_id})
                    yield format_event(data, event="customer.erased")
                else:
                    yield format_event(render_template("sidebar/_erased.html"), event="profile")
                yield format_event("erased", event=END_EVENT)
                return
            now = time.monotonic()
            if now - started >= config.stream_max_seconds:
                return  # the client reconnects with Last-Event-ID
            if now - last_write >= config.heartbeat_seconds:
                yield ": heartbeat\n\n"
                last_write = now
            wait = min(
                config.heartbeat_seconds - (now - last_write),
                config.stream_max_seconds - (now - started),
            )
            if more:  # a long way behind: the next page from the table
                pending, more = _backfill(path, customer_id, last)
            else:
                # A client that vanished is noticed within a second, not at the next
                # heartbeat: each open stream holds one of the worker's threads.
                pending = sub.wait(min(max(wait, 0.0), GONE_CHECK_SECONDS))
                if not pending and client is not None and _client_left(client):
                    return
    finally:
        sub.close()


def now_due(last_write: float, config: SidebarConfig) -> bool:
    """Whether a heartbeat is due on a stream last written at `last_write`."""
    return time.monotonic() - last_write >= config.heartbeat_seconds


def _ended(path: str, token: str) -> bool:
    """Whether the sidebar session of `token` has ended or expired since its stream
    began (checked before each update and each heartbeat, not each second)."""
    with pooled(path) as db:
        return sessions.active(db, token) is None


def _client_left(client: socket.socket) -> bool:
    """Whether the stream's client closed or reset its connection. A stream's client
    sends nothing after its request, so a readable socket means end of file or reset."""
    if client.fileno() < 0:  # closed already
        return True
    if isinstance(client, ssl.SSLSocket):  # recv flags are refused; heartbeats will tell
        return False
    try:
        poller = select.poll()
        poller.register(client, select.POLLIN)
        if not poller.poll(0):
            return False
        return client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except (OSError, ValueError):  # reset, or closed meanwhile
        return True


def _backfill(path: str, customer_id: str, after_id: int) -> tuple[list[dict[str, Any]], bool]:
    """A page of the customer's events after `after_id` from the table, and whether more
    follow; when the customer is gone (erased since the stream began), the page ends with
    a stand-in erasure event."""
    with pooled(path) as db:
        found = events_after(db, after_id, customer_id, EVENTS_PAGE)
        if len(found) == EVENTS_PAGE:
            return found, True
        if not _exists(db, customer_id):
            at = int(found[-1]["id"]) + 1 if found else after_id + 1
            found.append({"id": at, "type": "customer.erased"})
        return found, False


class SentFacts:
    """What one sidebar stream sent of each fact. A fact goes out in full once; the page
    keeps its popover and correction form, which never change (hx-preserve), so later
    updates carry stand-ins for them (`_fact.html`), and the same list item while the
    fact is unchanged (its status and update time) is reused, not rendered again."""

    def __init__(self) -> None:
        self.known: set[int] = set()  # sent in full
        self.items: dict[int, tuple[tuple[Any, Any], Markup]] = {}  # id: (state, item)


def _panel(path: str, viewer: Agent, customer_id: str, sent: SentFacts) -> str:
    """The panel for a live update, each fact's list item made as `SentFacts` says."""
    with pooled(path) as db:
        if not _exists(db, customer_id):
            return render_template("sidebar/_erased.html")
        panel = profile_panel(db, get_policy(), viewer, customer_id)
    template = current_app.jinja_env.get_template("sidebar/_fact.html")
    context = {"cid": panel["customer"]["id"], "csrf_token": csrf_token()}
    known = frozenset(sent.known)
    items: dict[int, Markup] = {}
    kept: dict[int, tuple[tuple[Any, Any], Markup]] = {}
    for fact in (*panel["complaints"], *panel["preferences"]):
        fact_id, state = int(fact["id"]), (fact.get("status"), fact.get("updated_at"))
        if fact_id not in known:  # in full, this once
            items[fact_id] = Markup(template.render(fact=fact, known=known, **context))
            continue
        held = sent.items.get(fact_id)
        if held is None or held[0] != state:
            held = (state, Markup(template.render(fact=fact, known=known, **context)))
        items[fact_id] = held[1]
        kept[fact_id] = held
    sent.items = kept  # facts gone from the panel are forgotten
    sent.known.update(items)
    return render_template("sidebar/_profile.html", panel=panel, items=items)
