"""In-memory event store: the fake that passes the same contract suite as PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.clock import Clock, SystemClock
from shared.errors import ConcurrencyError
from shared.events.envelope import Envelope, Metadata, NewEvent
from shared.store.eventstore import Position, StoredEvent


@dataclass
class MemoryLog:
    """The committed state shared by every fake unit of work over the same 'database'."""

    events: list[StoredEvent] = field(default_factory=list)
    streams: dict[str, list[Envelope]] = field(default_factory=dict)
    next_tx: int = 1


class InMemoryEventStore:
    """Writes are buffered until `commit()`, like a transaction; a clash surfaces on append."""

    def __init__(self, log: MemoryLog | None = None, clock: Clock | None = None) -> None:
        self.log = log or MemoryLog()
        self._clock = clock or SystemClock()
        self._pending: list[Envelope] = []

    async def load(self, stream_id: str, after: int = 0) -> list[Envelope]:
        committed = list(self.log.streams.get(stream_id, []))
        mine = committed + [e for e in self._pending if e.stream_id == stream_id]
        return [e for e in mine if e.version > after]

    async def append(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[NewEvent],
        metadata: Metadata,
    ) -> list[Envelope]:
        current = len(await self.load(stream_id))
        if current != expected_version:
            raise ConcurrencyError(
                f"stream {stream_id} moved past version {expected_version}", stream_id=stream_id
            )
        now = self._clock.now()
        envelopes = [
            Envelope(
                event_id=uuid.uuid4(),
                stream_id=stream_id,
                stream_type=stream_type,
                version=expected_version + i,
                event=new.event,
                recorded_at=now,
                key=new.key or stream_id,
                metadata=metadata,
            )
            for i, new in enumerate(events, start=1)
        ]
        self._pending.extend(envelopes)
        return envelopes

    async def read_all(
        self,
        after: Position | None = None,
        limit: int = 1000,
        occurred_until: datetime | None = None,
    ) -> list[StoredEvent]:
        after = after or Position(0, 0)
        out = [
            s
            for s in self.log.events
            if s.position > after
            and (occurred_until is None or s.envelope.occurred_at <= occurred_until)
        ]
        return out[:limit]

    def commit(self) -> None:
        # re-check on commit: another fake unit of work may have committed meanwhile
        first: dict[str, Envelope] = {}
        for env in self._pending:
            first.setdefault(env.stream_id, env)
        for env in first.values():
            if len(self.log.streams.get(env.stream_id, [])) != env.version - 1:
                self._pending.clear()
                raise ConcurrencyError(f"stream {env.stream_id} moved on", stream_id=env.stream_id)
        tx = self.log.next_tx
        self.log.next_tx += 1
        for env in self._pending:
            self.log.streams.setdefault(env.stream_id, []).append(env)
            self.log.events.append(StoredEvent(Position(tx, len(self.log.events) + 1), env))
        self._pending.clear()

    def rollback(self) -> None:
        self._pending.clear()
