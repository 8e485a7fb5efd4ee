"""What every collab command handler shares: the context, recording events, If-Match."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.collab_svc.application.uow import CollabUnitOfWork
from shared.business_time import keep_order
from shared.context import Context
from shared.errors import PreconditionFailedError
from shared.events.base import DomainEvent
from shared.events.envelope import Metadata, NewEvent
from shared.observability import EVENTS_APPENDED


@dataclass(frozen=True)
class Outcome:
    view: dict[str, Any]
    version: int


def check_version(ctx: Context, current: int, what: str) -> None:
    if ctx.expected_version is not None and ctx.expected_version != current:
        raise PreconditionFailedError(
            f"If-Match expects version {ctx.expected_version}; the {what} is at {current}",
            current_version=current,
        )


async def record(
    uow: CollabUnitOfWork,
    stream: tuple[str, str],
    expected: int,
    events: list[DomainEvent],
    metadata: Metadata,
    key: str | None = None,
    *,
    dated: bool = True,
) -> list[DomainEvent]:
    """Append after `expected` (a clash raises ConcurrencyError); `key` partitions by account.

    The stream's business time never goes backwards: a dated event earlier than the stream's
    latest is refused (422); an undated one (the clock's now, behind a slightly future-dated
    event) moves up to it. Returns the events as recorded.
    """
    stream_id, stream_type = stream
    if expected:
        latest = max(e.occurred_at for e in await uow.events.load(stream_id))
        events = keep_order(events, latest, dated=dated)
    await uow.events.append(
        stream_id, stream_type, expected, [NewEvent(e, key=key) for e in events], metadata
    )
    for e in events:
        EVENTS_APPENDED.labels("collab", e.event_name).inc()
    return events
