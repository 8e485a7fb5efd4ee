"""The fact table: consumed pipeline and collab events, stored compactly, read back as contracts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.events.base import DomainEvent
from shared.events.envelope import Envelope
from shared.events.registry import EventRegistry
from shared.replay.bulk import copy_rows

COLUMNS = ("event_id", "event_name", "event_version", "occurred_at", "payload")
# many facts in one statement; unnest keeps their order, so `seq` follows the offsets
SAVE_MANY = text(
    "INSERT INTO scoring_facts (event_id, event_name, event_version, occurred_at, payload)"
    " SELECT e, n, v, o, CAST(p AS jsonb) FROM unnest(CAST(:ids AS uuid[]),"
    " CAST(:names AS text[]), CAST(:versions AS int[]), CAST(:occurred AS timestamptz[]),"
    " CAST(:payloads AS text[])) WITH ORDINALITY AS t(e, n, v, o, p, i) ORDER BY i"
    " ON CONFLICT (event_id) DO NOTHING"
)
LOAD_AFTER = text(
    "SELECT seq, event_name, event_version, payload FROM scoring_facts WHERE seq > :after"
    " ORDER BY seq"
)
TOTALS = text("SELECT count(*) AS n, COALESCE(max(seq), 0) AS top FROM scoring_facts")
#: free text scoring never reads; dropping it keeps the table compact
TRIM: dict[str, dict[str, Any]] = {
    "ActivityLogged": {"summary": "", "contacts": [], "next_step": None},
    "ArtifactSubmitted": {"fields": {}},
    "StakeholderMapped": {"email": None, "phone": None},
}


def compact_json(env: Envelope) -> str:
    """The event's payload without the `TRIM`med free text, serialised in one step by pydantic
    (the JSON value of `{**payload(), **trim}`, several times faster than `json.dumps`)."""
    trim = TRIM.get(env.name)
    event = env.event.model_copy(update=trim) if trim else env.event
    return event.model_dump_json()


async def save_many(conn: AsyncConnection, envs: Sequence[Envelope]) -> None:
    """One statement for a consumer's batch (a repeated event id is stored once)."""
    if not envs:
        return
    await conn.execute(
        SAVE_MANY,
        {
            "ids": [env.event_id for env in envs],
            "names": [env.name for env in envs],
            "versions": [env.event.event_version for env in envs],
            "occurred": [env.occurred_at for env in envs],
            "payloads": [compact_json(env) for env in envs],
        },
    )


async def copy_many(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
    """The rows `save_many` writes, copied in one go: for rebuilds, which hand each event once to a
    table they alone fill."""
    rows = [
        (e.event_id, e.name, e.event.event_version, e.occurred_at, compact_json(e))
        for e in envelopes
    ]
    await copy_rows(conn, "scoring_facts", COLUMNS, rows)


class FactCache:
    """The facts parsed once per process; refreshed by what was added since (gap-safe)."""

    def __init__(self, engine: AsyncEngine, registry: EventRegistry) -> None:
        self._engine = engine
        self._registry = registry
        self._events: list[DomainEvent] = []
        self._top = 0
        self._lock = asyncio.Lock()
        #: (highest sequence, count) of the facts last read: equal stamps, equal facts
        self.stamp = (0, 0)

    async def events(self, before: datetime | None = None) -> list[DomainEvent]:
        """Every fact (or those with business time before `before`), in no particular order."""
        async with self._lock, self._engine.connect() as conn:
            totals = (await conn.execute(TOTALS)).one()
            if totals.n != len(self._events) or totals.top != self._top:
                rows = list(await conn.execute(LOAD_AFTER, {"after": self._top}))
                if len(self._events) + len(rows) != totals.n:
                    # a row committed late below our top (sequence gap): reload everything
                    self._events = []
                    rows = list(await conn.execute(LOAD_AFTER, {"after": 0}))
                self._events.extend(self._parse(r) for r in rows)
                self._top = rows[-1].seq if rows else self._top
            events = self._events
            self.stamp = (self._top, len(events))
        if before is None:
            return list(events)
        return [e for e in events if e.occurred_at < before]

    def _parse(self, row: Any) -> DomainEvent:
        payload = row.payload if isinstance(row.payload, dict) else json.loads(row.payload)
        return self._registry.parse(row.event_name, row.event_version, payload)
