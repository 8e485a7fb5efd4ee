"""When a failed delivery is tried again: exponential backoff with jitter, a bounded budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["pending", "delivered", "failed"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_delay_s: float
    max_delay_s: float

    def delay_s(self, attempt: int, jitter: float) -> float:
        """Wait after failed attempt `attempt` (1-based): base·2^(attempt−1), capped at the
        maximum, then scaled by `jitter` in [0, 1) into [½, 1) of that (spreads retries of
        many deliveries that failed together, never waits longer than the schedule)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** min(attempt - 1, 60))
        return ceiling * (0.5 + min(max(jitter, 0.0), 1.0) / 2)


@dataclass(frozen=True, slots=True)
class Next:
    status: Status
    next_attempt_at: datetime | None


def after_attempt(
    policy: RetryPolicy,
    attempt: int,
    give_up_after: int,
    succeeded: bool,
    now: datetime,
    jitter: float,
) -> Next:
    """The delivery's state after its attempt number `attempt` (counted over its whole life;
    a replay raises `give_up_after` to give it a fresh budget)."""
    if succeeded:
        return Next("delivered", None)
    if attempt >= give_up_after:
        return Next("failed", None)
    return Next("pending", now + timedelta(seconds=policy.delay_s(attempt, jitter)))


def succeeded(status_code: int | None) -> bool:
    """Standard Webhooks: any 2xx is a success; redirects are not followed, so they fail."""
    return status_code is not None and 200 <= status_code < 300
