"""Applying a batch of records to the rebuilt tables: claim, handle, check, in one savepoint.

The claim table plays the inbox's part (an event seen twice on the topics is applied once) and
later tells the swap which events the live inbox must hold. A batch that fails is applied again
one event at a time, so only the failing event is left out, as the live consumer would park it.
After every batch the transaction's own statistics show which tables it wrote: a handler that
wrote anything outside the rebuild's schema stops the replay before its transaction commits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from aiokafka import ConsumerRecord
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import BigInteger, Integer, SmallInteger, Text

from shared.events.cloudevents import (
    MalformedCloudEventError,
    decode_mapped,
    header_map,
    parse_type,
)
from shared.events.envelope import Envelope
from shared.events.registry import EventRegistry, UnknownEventError
from shared.messaging.faults import is_transient
from shared.replay.bulk import copy_rows
from shared.replay.spec import Projection, ReplayGroup
from shared.replay.tables import APPLIED, CLAIM_COLUMNS, q

log = logging.getLogger(__name__)
UNIQUE_VIOLATION = "23505"
# rows written per table outside the rebuild's schema; the figures may include earlier
# transactions of the same backend not yet flushed to the shared statistics, hence a baseline
WRITES_ELSEWHERE = text(
    "SELECT schemaname || '.' || relname AS name, n_tup_ins + n_tup_upd + n_tup_del AS n"
    " FROM pg_stat_xact_user_tables WHERE schemaname <> :schema"
    " AND n_tup_ins + n_tup_upd + n_tup_del > 0"
)


class ReplayError(Exception):
    """The replay cannot go on (the message says why); nothing was swapped."""


@dataclass
class Counts:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    later: int = 0
    unreadable: int = 0
    failed: int = 0
    #: consumer, event id and error of each event that failed (the swap checks every one)
    failures: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        """Another worker's counts into these."""
        for f in fields(self):
            if f.name != "failures":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.failures += other.failures

    def failed_ids(self) -> dict[str, list[str]]:
        by_group: dict[str, list[str]] = defaultdict(list)
        for group, event_id, _ in self.failures:
            by_group[group].append(event_id)
        return by_group


class Item(NamedTuple):
    """One decoded event for one group, with where it was read (a tuple: there are millions)."""

    group: ReplayGroup
    consumer: str
    envelope: Envelope
    #: the topic's place in the projection's topics (a small number stored per claim)
    topic: int
    partition: int
    offset: int


class Applier:
    def __init__(
        self,
        projection: Projection,
        registry: EventRegistry,
        schema: str,
        topic_prefix: str,
        as_of: datetime | None = None,
    ) -> None:
        self._projection = projection
        self._registry = registry
        self._schema = schema
        self._prefix = topic_prefix
        self._as_of = as_of
        self.counts = Counts()
        self._claim = text(
            f"INSERT INTO {q(schema, APPLIED)} ({', '.join(CLAIM_COLUMNS)})"  # noqa: S608
            " SELECT * FROM unnest(:consumers, :ids, :topics, :partitions, :offsets)"
            " ON CONFLICT DO NOTHING RETURNING consumer, event_id"
        ).bindparams(
            bindparam("consumers", type_=ARRAY(Text())),
            bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True))),
            bindparam("topics", type_=ARRAY(SmallInteger())),
            bindparam("partitions", type_=ARRAY(Integer())),
            bindparam("offsets", type_=ARRAY(BigInteger())),
        )
        self._topic_no = projection.topic_numbers
        self._by_topic: dict[str, list[ReplayGroup]] = defaultdict(list)
        for group in projection.groups:
            for topic in group.topics:
                self._by_topic[topic].append(group)
        #: (topic, event name) -> the groups handling it there, with their consumer names
        self._wanted: dict[tuple[str, str], tuple[tuple[ReplayGroup, str], ...]] = {}

    def decode(self, records: list[ConsumerRecord[Any, Any]]) -> list[Item]:
        """Pure work (no I/O): runs while the previous batch is in the database."""
        items: list[Item] = []
        counts = self.counts
        for msg in records:
            counts.read += 1
            try:
                headers = header_map(msg.headers)
                name, version = parse_type(headers.get("ce_type", ""))
                wanted = self._wanted.get((msg.topic, name))
                if wanted is None:
                    wanted = self._groups_for(msg.topic, name)
                if not wanted:
                    counts.ignored += 1
                    continue
                latest = self._registry.latest(name)
                if latest is None or version > latest:
                    raise ReplayError(
                        f"{msg.topic}/{msg.partition}@{msg.offset} holds {name} v{version}, "
                        "newer than this installation knows: upgrade it before replaying"
                    )
                env = decode_mapped(headers, msg.value, self._registry)
            except (MalformedCloudEventError, UnknownEventError) as exc:
                counts.unreadable += 1  # the live consumer parks these too
                log.warning("unreadable %s/%d@%d: %s", msg.topic, msg.partition, msg.offset, exc)
                continue
            if self._as_of is not None and env.occurred_at >= self._as_of:
                counts.later += 1
                continue
            topic = self._topic_no[msg.topic]
            for group, consumer in wanted:
                items.append(Item(group, consumer, env, topic, msg.partition, msg.offset))
        return items

    def _groups_for(self, topic: str, name: str) -> tuple[tuple[ReplayGroup, str], ...]:
        groups = self._by_topic.get(topic, [])
        wanted = tuple((g, self._prefix + g.group) for g in groups if name in g.handlers)
        if len(self._wanted) < 1024:  # names come from the messages: keep a bounded few
            self._wanted[(topic, name)] = wanted
        return wanted

    async def apply(self, conn: AsyncConnection, items: list[Item]) -> None:
        """In the caller's transaction: the batch in one savepoint, else event by event."""
        if not items:
            return
        try:
            async with conn.begin_nested():
                done, duplicates = await self._apply(conn, items)
        except ReplayError:
            raise
        except Exception as exc:
            if is_transient(exc):
                raise
            log.info("batch of %d failed (%s); applying it event by event", len(items), exc)
            done, duplicates = await self._one_by_one(conn, items)
        self.counts.applied += done
        self.counts.duplicates += duplicates

    async def _one_by_one(self, conn: AsyncConnection, items: list[Item]) -> tuple[int, int]:
        done = duplicates = 0
        for item in items:
            try:
                async with conn.begin_nested():
                    d, dup = await self._apply(conn, [item])
            except ReplayError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    raise
                self._failed(item, exc)
                continue
            done, duplicates = done + d, duplicates + dup
        return done, duplicates

    def _failed(self, item: Item, exc: Exception) -> None:
        self.counts.failed += 1
        error = f"{type(exc).__name__}: {exc}"[:300]
        self.counts.failures.append((item.consumer, str(item.envelope.event_id), error))
        log.warning("%s: %s failed: %s", item.consumer, item.envelope.event_id, error)

    async def _apply(self, conn: AsyncConnection, items: list[Item]) -> tuple[int, int]:
        writes_before = await self._writes_elsewhere(conn)
        seen: set[tuple[str, UUID]] = set()
        unique: list[Item] = []
        for item in items:
            key = (item.consumer, item.envelope.event_id)
            if key not in seen:
                seen.add(key)
                unique.append(item)
        todo = await self._claim_fresh(conn, unique)
        for group in self._projection.groups:
            envelopes = [i.envelope for i in todo if i.group is group]
            if not envelopes:
                continue
            if group.batch is not None:
                await group.batch(conn, envelopes)
            else:
                for env in envelopes:
                    await group.handlers[env.name](conn, env)
        writes_after = await self._writes_elsewhere(conn)
        elsewhere = [t for t, n in writes_after.items() if n > writes_before.get(t, 0)]
        if elsewhere:
            raise ReplayError(
                f"the handlers of {self._projection.name} wrote to {', '.join(sorted(elsewhere))},"
                " outside the tables being rebuilt: declare those tables in the service's replay"
                " plan or refuse the group; nothing was changed"
            )
        return len(todo), len(items) - len(todo)

    async def _claim_fresh(self, conn: AsyncConnection, items: list[Item]) -> list[Item]:
        """The items not applied before; claims them. Copies the claims when none was seen yet
        (the usual case, cheapest), else inserts them and keeps those it could insert."""
        rows = [(i.consumer, i.envelope.event_id, i.topic, i.partition, i.offset) for i in items]
        try:
            async with conn.begin_nested():
                await copy_rows(conn, APPLIED, CLAIM_COLUMNS, rows, schema=self._schema)
            return items
        except IntegrityError:
            pass
        except Exception as exc:  # asyncpg's own error when it is not wrapped
            if getattr(exc, "sqlstate", None) != UNIQUE_VIOLATION:
                raise
        names = ("consumers", "ids", "topics", "partitions", "offsets")
        columns = [list(c) for c in zip(*rows, strict=True)]
        claimed = await conn.execute(self._claim, dict(zip(names, columns, strict=True)))
        fresh = {(c, e) for c, e in claimed}
        return [i for i in items if (i.consumer, i.envelope.event_id) in fresh]

    async def _writes_elsewhere(self, conn: AsyncConnection) -> dict[str, int]:
        rows = await conn.execute(WRITES_ELSEWHERE, {"schema": self._schema})
        return {name: int(n) for name, n in rows}
