"""The context of one command: who asks, when, under which correlation, expecting which version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.clock import Clock
from shared.events.envelope import Metadata
from shared.identity import Principal
from shared.observability import correlation_id


@dataclass(frozen=True)
class Context:
    actor: Principal
    now: datetime
    metadata: Metadata
    #: the stream version the caller saw (If-Match), or None
    expected_version: int | None = None


def context_for(actor: Principal, clock: Clock, expected_version: int | None = None) -> Context:
    """The actor and the HTTP correlation id travel into every event's metadata."""
    cid = correlation_id.get()
    return Context(
        actor=actor,
        now=clock.now(),
        metadata=Metadata(
            correlation_id=cid, causation_id=cid, actor=actor.sub, region=actor.region
        ),
        expected_version=expected_version,
    )
