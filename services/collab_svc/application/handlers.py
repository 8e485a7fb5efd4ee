"""What every collab command handler shares: the context, recording events, If-Match."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.collab_svc.application.uow import CollabUnitOfWork
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
) -> None:
    """Append after `expected` (a clash raises ConcurrencyError); `key` partitions by account."""
    stream_id, stream_type = stream
    await uow.events.append(
        stream_id, stream_type, expected, [NewEvent(e, key=key) for e in events], metadata
    )
    for e in events:
        EVENTS_APPENDED.labels("collab", e.event_name).inc()
