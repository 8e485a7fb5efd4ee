"""PostgreSQL event store on SQLAlchemy 2.0 async Core (asyncpg driver)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.clock import Clock
from shared.errors import ConcurrencyError, PayloadTooLargeError
from shared.events.envelope import Envelope, Metadata, NewEvent
from shared.events.registry import EventRegistry
from shared.messaging import wake
from shared.store import driver as raw
from shared.store.cache import StreamCache
from shared.store.eventstore import Position, StoredEvent

#: the largest event payload accepted at append: far below the producer's request limit
#: (`max_body_bytes` + headroom), so a stored event can always be published
MAX_EVENT_BYTES = 256 * 1024
COLUMNS = (
    "global_id, tx_id::text AS tx_id, event_id, stream_id, stream_type, version, event_name,"
    " event_version, payload, metadata, partition_key, recorded_at"
)
# The WHERE clause refuses a gap (expected version ahead of the stream); the unique
# (stream_id, version) constraint refuses a writer that is behind.
INSERT = text(
    "INSERT INTO events (event_id, stream_id, stream_type, version, event_name, event_version,"
    " payload, metadata, partition_key, occurred_at, recorded_at) SELECT CAST(:event_id AS uuid),"
    " :stream_id, :stream_type, :version, :event_name, :event_version, CAST(:payload AS jsonb),"
    " CAST(:metadata AS jsonb), :partition_key, :occurred_at, :recorded_at"
    " WHERE COALESCE((SELECT max(version) FROM events WHERE stream_id = :stream_id), 0)"
    " = :version - 1 ON CONFLICT (stream_id, version) DO NOTHING"
)
#: the columns that differ between the events of one append
PER_EVENT = (
    "event_id",
    "version",
    "event_name",
    "event_version",
    "payload",
    "partition_key",
    "occurred_at",
)


def _insert_many(n: int, guard: str = "") -> str:
    """The insert of n events of one stream, guarded like INSERT, as one statement; `guard`, a
    boolean SQL expression, must hold too."""
    rows = ", ".join(
        f"(CAST(:event_id_{i} AS uuid), CAST(:version_{i} AS integer), CAST(:event_name_{i} AS"
        f" text), CAST(:event_version_{i} AS integer), CAST(:payload_{i} AS jsonb),"
        f" CAST(:partition_key_{i} AS text), CAST(:occurred_at_{i} AS timestamptz))"
        for i in range(n)
    )
    return (
        "INSERT INTO events (event_id, stream_id, stream_type, version, event_name,"  # noqa: S608 - placeholders only
        " event_version, payload, metadata, partition_key, occurred_at, recorded_at)"
        " SELECT v.event_id, CAST(:stream_id AS text), CAST(:stream_type AS text), v.version,"
        " v.event_name, v.event_version, v.payload, CAST(:metadata AS jsonb), v.partition_key,"
        " v.occurred_at, CAST(:recorded_at AS timestamptz) FROM (VALUES "
        + rows
        + ") AS v (event_id, version, event_name, event_version, payload, partition_key,"
        " occurred_at) WHERE COALESCE((SELECT max(version) FROM events"
        " WHERE stream_id = CAST(:stream_id AS text)), 0) = CAST(:expected AS integer)"
        + (f" AND ({guard})" if guard else "")
        + " ON CONFLICT (stream_id, version) DO NOTHING RETURNING 1"
    )


@functools.lru_cache(maxsize=64)
def _append_then_sql(n: int, then: str, guard: str = "") -> str:
    return f"WITH ins AS ({_insert_many(n, guard)}), then_ AS ({then}) SELECT count(*) FROM ins"  # noqa: S608


@functools.lru_cache(maxsize=64)
def _append_then(n: int, then: str, guard: str = "") -> TextClause:
    """Built once per shape: SQLAlchemy then finds its compiled form in its cache at once."""
    return text(_append_then_sql(n, then, guard))


def _clash(stream_id: str, expected_version: int) -> ConcurrencyError:
    return ConcurrencyError(
        f"stream {stream_id} is not at version {expected_version}", stream_id=stream_id
    )


LOAD_SQL = (
    f"SELECT {COLUMNS} FROM events WHERE stream_id = :stream_id AND version > :after"  # noqa: S608
    " ORDER BY version"
)
LOAD = text(LOAD_SQL)
# Only transactions below the snapshot's xmin are certainly finished: reading up to there
# means no event can later commit below the returned position (the sequence-gap trap).
READ_ALL = text(
    f"SELECT {COLUMNS} FROM events"  # noqa: S608
    " WHERE (tx_id, global_id) > (CAST(:tx AS text)::xid8, :gid)"
    " AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    " AND (CAST(:until AS timestamptz) IS NULL OR occurred_at <= CAST(:until AS timestamptz))"
    " ORDER BY tx_id, global_id LIMIT :limit"
)


def row_to_envelope(row: Any, registry: EventRegistry) -> Envelope:
    """An envelope from a SQLAlchemy row of the event columns."""
    return record_to_envelope(row._mapping, registry)


def record_to_envelope(row: Mapping[str, Any], registry: EventRegistry) -> Envelope:
    """An envelope from a mapping of the event columns (an asyncpg record is one)."""
    payload = row["payload"]
    if not isinstance(payload, dict):
        payload = json.loads(payload)
    meta = row["metadata"]
    if not isinstance(meta, dict):
        meta = json.loads(meta)
    event_id = row["event_id"]
    return Envelope(
        event_id=event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(event_id),
        stream_id=row["stream_id"],
        stream_type=row["stream_type"],
        version=row["version"],
        event=registry.parse(row["event_name"], row["event_version"], payload),
        recorded_at=row["recorded_at"],
        key=row["partition_key"],
        metadata=Metadata(**meta),
    )


class PostgresEventStore:
    """Bound to one connection inside the caller's transaction (the unit of work)."""

    def __init__(
        self,
        conn: AsyncConnection,
        registry: EventRegistry,
        clock: Clock,
        cache: StreamCache | None = None,
        *,
        driver: Any = None,
    ) -> None:
        self._conn = conn
        #: the connection's asyncpg driver when its transaction was begun there (the unit of
        #: work): the hot statements go straight to it
        self._driver = driver
        self._registry = registry
        self._clock = clock
        self._cache = cache
        #: what this transaction read and wrote, for the cache once it commits
        self._touched: dict[str, tuple[Envelope, ...]] = {}
        self._appended = False

    async def load(self, stream_id: str, after: int = 0) -> list[Envelope]:
        if after:
            return await self._load(stream_id, after)
        known = self._cache.get(stream_id) if self._cache is not None else ()
        envelopes = (*known, *await self._load(stream_id, len(known)))
        self._touched[stream_id] = envelopes
        return list(envelopes)

    async def _load(self, stream_id: str, after: int) -> list[Envelope]:
        params = {"stream_id": stream_id, "after": after}
        if self._driver is not None:
            records = await raw.fetch(self._driver, LOAD_SQL, params)
            return [record_to_envelope(r, self._registry) for r in records]
        result = await self._conn.execute(LOAD, params)
        return [row_to_envelope(r, self._registry) for r in result]

    def committed(self) -> None:
        """Called by the unit of work after its commit: what it saw is now safe to cache, and
        what it wrote is for the relay to publish (woken here when its engine defers NOTIFY)."""
        if self._cache is not None:
            for stream_id, envelopes in self._touched.items():
                self._cache.put(stream_id, envelopes)
        self._touched.clear()
        if self._appended:
            self._appended = False
            wake.poke(self._conn.engine)

    async def append(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[NewEvent],
        metadata: Metadata,
    ) -> list[Envelope]:
        if not events:
            return []
        envelopes, rows = self._prepare(stream_id, stream_type, expected_version, events, metadata)
        # a clash inserts nothing (no error), so the caller's transaction stays usable
        for row in rows:
            if (await self._conn.execute(INSERT, row)).rowcount != 1:
                raise _clash(stream_id, expected_version)
        self._remember(stream_id, expected_version, envelopes)
        return envelopes

    async def append_then(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[NewEvent],
        metadata: Metadata,
        then: str,
        params: dict[str, Any],
        *,
        guard: str = "",
    ) -> list[Envelope]:
        """Append and run `then` (one more write, e.g. a view's upsert) in ONE statement.

        `then` is a data-modifying statement put in a CTE beside the insert; its parameter
        names must not end in `_<digit>` nor be `stream_id`, `stream_type`, `metadata`,
        `recorded_at` or `expected`. `guard`, a boolean SQL expression over the same
        parameters, must hold for the events to be inserted (e.g. that a row read earlier
        has not changed, checked under a lock it takes); a guard that fails is a clash.

        `then` runs whether or not the events were inserted. Inside a transaction a clash
        leaves nothing, as the caller's transaction rolls back; a statement sent outside one
        (a deferred unit of work) commits on its own, so its `then` must write only when the
        insert did: it may test `EXISTS (SELECT FROM ins)`, the insert's rows.
        """
        if not events:
            return []
        envelopes, rows = self._prepare(stream_id, stream_type, expected_version, events, metadata)
        values: dict[str, Any] = {
            "stream_id": stream_id,
            "stream_type": stream_type,
            "metadata": rows[0]["metadata"],
            "recorded_at": rows[0]["recorded_at"],
            "expected": expected_version,
            **params,
        }
        for i, row in enumerate(rows):
            values.update({f"{name}_{i}": row[name] for name in PER_EVENT})
        if self._driver is not None:
            sql = _append_then_sql(len(rows), then, guard)
            inserted = await raw.fetchval(self._driver, sql, values)
        else:
            statement = _append_then(len(rows), then, guard)
            inserted = (await self._conn.execute(statement, values)).scalar()
        if inserted != len(rows):
            raise _clash(stream_id, expected_version)
        self._remember(stream_id, expected_version, envelopes)
        return envelopes

    def _prepare(
        self,
        stream_id: str,
        stream_type: str,
        expected_version: int,
        events: Sequence[NewEvent],
        metadata: Metadata,
    ) -> tuple[list[Envelope], list[dict[str, Any]]]:
        recorded_at = self._clock.now()
        envelopes = [
            Envelope(
                event_id=uuid.uuid4(),
                stream_id=stream_id,
                stream_type=stream_type,
                version=expected_version + i,
                event=new.event,
                recorded_at=recorded_at,
                key=new.key or stream_id,
                metadata=metadata,
            )
            for i, new in enumerate(events, start=1)
        ]
        # to jsonb columns, whose text form PostgreSQL normalises: pydantic-core's encoder
        # writes the same JSON several times faster than the json module
        meta_json = to_json(metadata).decode()
        rows = []
        for e in envelopes:
            payload = to_json(e.event)  # the JSON of `payload()`, without the dict between
            if len(payload) > MAX_EVENT_BYTES:
                raise PayloadTooLargeError(
                    f"the {e.event.event_name} event would be {len(payload)} bytes;"
                    f" an event may hold at most {MAX_EVENT_BYTES}",
                    limit=MAX_EVENT_BYTES,
                )
            rows.append(
                {
                    "event_id": str(e.event_id),
                    "stream_id": stream_id,
                    "stream_type": stream_type,
                    "version": e.version,
                    "event_name": e.event.event_name,
                    "event_version": e.event.event_version,
                    "payload": payload.decode(),
                    "metadata": meta_json,
                    "partition_key": e.key,
                    "occurred_at": e.event.occurred_at,
                    "recorded_at": recorded_at,
                }
            )
        return envelopes, rows

    def _remember(self, stream_id: str, expected_version: int, envelopes: list[Envelope]) -> None:
        self._appended = True
        before = self._touched.get(stream_id)
        if before is not None and len(before) == expected_version:
            self._touched[stream_id] = (*before, *envelopes)

    async def read_all(
        self,
        after: Position | None = None,
        limit: int = 1000,
        occurred_until: datetime | None = None,
    ) -> list[StoredEvent]:
        after = after or Position(0, 0)
        result = await self._conn.execute(
            READ_ALL,
            {
                "tx": str(after.tx_id),
                "gid": after.global_id,
                "until": occurred_until,
                "limit": limit,
            },
        )
        return [
            StoredEvent(Position(int(r.tx_id), r.global_id), row_to_envelope(r, self._registry))
            for r in result
        ]
