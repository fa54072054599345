"""How much extraction one request and one caller may queue (issue 12, item 6).

The pipeline's time grows with the characters it reads, and concurrent requests wait
for it together: without a bound, one request of many long texts, or one caller sending
many requests at once, holds workers for minutes while everyone else waits. So:

* a request carries at most TRUSTLINE_MAX_REQUEST_TEXTS texts (400 beyond) and
  TRUSTLINE_MAX_REQUEST_CHARS characters in all (413 beyond);
* a caller (an API key's principal, an agent session) has at most
  TRUSTLINE_MAX_CALLER_CHARS characters queued for or in extraction in a server process
  at once; one more request gets 429 with Retry-After until the earlier ones are done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from flask import Flask, current_app

from .domain.errors import ProfileError

EXTENSION = "trustline.extraction_queue"
RETRY_AFTER_SECONDS = 1


class ExtractionLimit(ProfileError):
    """A request over one of the extraction bounds; the message names the setting."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(status, code, message)
        self.retry_after = retry_after


class CallerQueue:
    """The characters each caller has queued for or in extraction in this process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # 0: no limit
        self._lock = threading.Lock()
        self.held: dict[str, int] = {}

    @contextmanager
    def hold(self, caller: str | None, chars: int) -> Iterator[None]:
        """Count `chars` for `caller` while the block runs; raises ExtractionLimit 429
        when the caller's earlier requests and this one would exceed the limit."""
        if caller is None or self.limit <= 0:
            yield
            return
        with self._lock:
            held = self.held.get(caller, 0)
            if held + chars > self.limit:
                raise ExtractionLimit(
                    429,
                    "extraction_busy",
                    f"this caller has {held} characters queued for extraction and this "
                    f"request adds {chars}: at most {self.limit} at once "
                    f"(TRUSTLINE_MAX_CALLER_CHARS); retry once earlier requests are answered",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self.held[caller] = held + chars
        try:
            yield
        finally:
            with self._lock:
                left = self.held.get(caller, chars) - chars
                if left > 0:
                    self.held[caller] = left
                else:
                    self.held.pop(caller, None)


def check_count(count: int) -> None:
    """Raise ExtractionLimit (400) when a request carries more than
    TRUSTLINE_MAX_REQUEST_TEXTS texts."""
    most = int(current_app.config["TRUSTLINE_MAX_REQUEST_TEXTS"])
    if count > most:
        raise ExtractionLimit(
            400,
            "invalid_request",
            f"items must be a list of at most {most} texts (TRUSTLINE_MAX_REQUEST_TEXTS); "
            f"got {count}",
        )


def check_request(texts: Sequence[str]) -> int:
    """Raise ExtractionLimit when `texts` are more, or longer together, than a request
    may carry; returns their characters."""
    check_count(len(texts))
    chars = sum(len(t) for t in texts)
    most_chars = int(current_app.config["TRUSTLINE_MAX_REQUEST_CHARS"])
    if chars > most_chars:
        raise ExtractionLimit(
            413,
            "too_much_text",
            f"the request's texts hold {chars} characters together; at most {most_chars} "
            "per request (TRUSTLINE_MAX_REQUEST_CHARS): send them in several requests",
        )
    return chars


@contextmanager
def queued(texts: Sequence[str]) -> Iterator[None]:
    """Run the block (the extraction of `texts`) within this request's and this
    caller's bounds; raises ExtractionLimit."""
    from .security import caller

    chars = check_request(texts)
    queue: CallerQueue | None = current_app.extensions.get(EXTENSION)
    if queue is None:
        yield
        return
    with queue.hold(caller(), chars):
        yield


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = CallerQueue(int(app.config["TRUSTLINE_MAX_CALLER_CHARS"]))
