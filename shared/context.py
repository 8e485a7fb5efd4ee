"""The context of one command: who asks, when, under which correlation, expecting which version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.business_time import in_order
from shared.clock import Clock
from shared.events.envelope import Metadata
from shared.identity import Principal
from shared.observability import correlation_id


@dataclass(frozen=True)
class Context:
    actor: Principal
    #: business time of the command: the clock's now, or the `occurred_at` the caller gave
    #: (checked by `BusinessTimePolicy`); `recorded_at` is always the store's clock
    now: datetime
    metadata: Metadata
    #: the stream version the caller saw (If-Match), or None
    expected_version: int | None = None
    #: True when `now` is a time the caller gave rather than the clock's
    dated: bool = False

    def at_or_after(self, latest: datetime | None) -> datetime:
        """The command's business time on a stream whose latest event happened at `latest`."""
        return in_order(self.now, latest, given=self.dated)


def context_for(
    actor: Principal,
    clock: Clock,
    expected_version: int | None = None,
    business_time: datetime | None = None,
) -> Context:
    """The actor and the HTTP correlation id travel into every event's metadata."""
    cid = correlation_id.get()
    return Context(
        actor=actor,
        now=clock.now() if business_time is None else business_time,
        metadata=Metadata(
            correlation_id=cid, causation_id=cid, actor=actor.sub, region=actor.region
        ),
        expected_version=expected_version,
        dated=business_time is not None,
    )
