"""What an attempt's outcome means for its delivery: a pure decision (Standard Webhooks'
status code etiquette, the retry schedule, jitter and Retry-After)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .config import DeliveryConfig
from .transport import Outcome


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str  # delivered, pending (retry at next_attempt_at) or dead
    note: str  # what happened, for the operator: "HTTP 500", "timed out"
    next_attempt_at: float | None = None
    disable_subscription: bool = False


def describe(outcome: Outcome) -> str:
    if outcome.status is None:
        return outcome.error or "no answer"
    if 300 <= outcome.status < 400:
        return f"HTTP {outcome.status} (redirects are not followed: update the URL)"
    return f"HTTP {outcome.status}"


def judge(
    outcome: Outcome,
    attempts_made: int,
    config: DeliveryConfig,
    *,
    now: float,
    rng: random.Random | None = None,
) -> Verdict:
    """The delivery's next state after its `attempts_made`-th attempt got `outcome`.

    2xx is success; 410 Gone disables the subscription; anything else is retried per the
    schedule (plus up to `jitter` of random extra delay, never less than a 429 or 503's
    Retry-After, capped) until the attempts run out: then it is a dead letter.
    """
    note = describe(outcome)
    status = outcome.status
    if status is not None and 200 <= status < 300:
        return Verdict("delivered", note)
    if status == 410:
        return Verdict("dead", "HTTP 410 Gone: subscription disabled", disable_subscription=True)
    if attempts_made >= config.max_attempts:
        return Verdict("dead", f"{note}; gave up after {attempts_made} attempts")
    delay = config.delay_before(attempts_made + 1)
    delay *= 1 + (rng or random).uniform(0, config.jitter)
    if status in (429, 503) and outcome.retry_after is not None:
        delay = max(delay, min(outcome.retry_after, config.max_retry_after))
    return Verdict("pending", note, next_attempt_at=now + delay)
