"""What travels around an event: identity, stream position, metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from shared.events.base import DomainEvent


@dataclass(frozen=True, slots=True)
class Metadata:
    correlation_id: str | None = None
    causation_id: str | None = None
    actor: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event decided by an aggregate, not yet stored."""

    event: DomainEvent
    #: partition key: the account id where the event concerns an account, else the stream id
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    event_id: UUID
    stream_id: str
    stream_type: str
    version: int
    event: DomainEvent
    recorded_at: datetime
    key: str
    metadata: Metadata = field(default_factory=Metadata)

    @property
    def name(self) -> str:
        return self.event.event_name

    @property
    def occurred_at(self) -> datetime:
        return self.event.occurred_at
