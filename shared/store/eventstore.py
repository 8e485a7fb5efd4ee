"""The event store port: append with an expected version, load a stream, read all in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.events.envelope import Envelope, Metadata, NewEvent


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A commit-safe position in the whole log: (transaction id, global id).

    Nothing can ever be committed below a position that `read_all` has returned.
    """

    tx_id: int
    global_id: int


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: Position
    envelope: Envelope


class EventStore(Protocol):
    async def load(self, stream_id: str, after: int = 0) -> list[Envelope]:
        """The stream's events after version `after` (a snapshot's), in version order."""
        ...

    async def append(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[NewEvent],
        metadata: Metadata,
    ) -> list[Envelope]:
        """Append after `expected_version`; raise ConcurrencyError if the stream moved on."""
        ...

    async def read_all(
        self,
        after: Position | None = None,
        limit: int = 1000,
        occurred_until: datetime | None = None,
    ) -> list[StoredEvent]:
        """Events of every stream in a commit-safe total order (see Position)."""
        ...
