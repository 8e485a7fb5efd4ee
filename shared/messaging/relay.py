"""The outbox relay: publishes committed events to Kafka in stream order, at least once.

One relay per database is active (a PostgreSQL advisory lock); it is woken by NOTIFY on
commit, polls as a fallback, and marks rows published rather than moving a checkpoint, so an
event committed late by a concurrent transaction is never skipped. A batch is bounded in rows
and bytes and encoded before anything is sent; a row that cannot be encoded or that the broker
refuses for good is parked (see `outbox`) instead of blocking everything behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.clock import Clock
from shared.events.cloudevents import KafkaRecord, StoredFields, encode_stored
from shared.events.envelope import Metadata
from shared.events.registry import EventRegistry, UnknownEventError
from shared.messaging import outbox
from shared.messaging.kafka import (
    backoff,
    end_offsets,
    ensure_topics,
    make_offsets_reader,
    make_producer,
    stop_quietly,
)
from shared.observability import EVENTS_PUBLISHED, OUTBOX_BACKLOG, PUBLISH_LATENCY
from shared.settings import Settings
from shared.store import driver as raw
from shared.store.schema import OUTBOX_CHANNEL

log = logging.getLogger(__name__)
#: the broker refuses this record, and would again: park the row, do not retry the batch
ROW_FAULTS = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    UnsupportedForMessageFormatError,
)
Encoded = tuple[Any, str, KafkaRecord]  # row, topic, record
Parked = tuple[Any, str]  # row, why
RELAY_LOCK = 7_341_002
BROKER_CHECK_EVERY_S = 5.0

BACKLOG_EVERY_S = 5.0
MARK = "UPDATE events SET published_at = now() WHERE global_id = ANY(CAST(:ids AS bigint[]))"
BACKLOG = text("SELECT count(*) FROM events WHERE published_at IS NULL AND parked_at IS NULL")
ANY_PUBLISHED = text("SELECT EXISTS (SELECT 1 FROM events WHERE published_at IS NOT NULL)")
REPUBLISH_ALL = text("UPDATE events SET published_at = NULL WHERE published_at IS NOT NULL")


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """The DSN asyncpg connects with, for the same database as SQLAlchemy's URL.

    SQLAlchemy's asyncpg dialect takes `?ssl=...`; asyncpg's own DSN parser knows `sslmode`
    and would send an unknown `ssl` to the server as a setting, which refuses it.
    """
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    if "ssl" in url.query:
        ssl = url.query["ssl"]
        mode = ssl if isinstance(ssl, str) else ssl[-1]
        mode = {"true": "require", "false": "disable"}.get(mode.lower(), mode)
        url = url.difference_update_query(["ssl"]).update_query_dict({"sslmode": mode})
    return url.render_as_string(hide_password=False)


async def republish_all(engine: AsyncEngine) -> int:
    """Mark every event unpublished: the relay sends the whole log again (consumers dedupe)."""
    async with engine.begin() as conn:
        result = await conn.execute(REPUBLISH_ALL)
        await conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
    return int(result.rowcount or 0)


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        registry: EventRegistry,
        clock: Clock,
        producer: AIOKafkaProducer | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._registry = registry
        self._clock = clock
        self._producer = producer
        self._wake = asyncio.Event()
        self._watermark = -1
        self._backlog_at = -BACKLOG_EVERY_S
        self.is_leader = False

    async def run(self) -> None:
        """Run until cancelled: compete for leadership, publish while leading, back off on faults."""
        attempt = 0
        while True:
            try:
                await self._lead()
                attempt = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any fault: broker or database away; try again later
                self.is_leader = False
                log.warning("outbox relay paused: %s: %s", type(exc).__name__, exc)
                attempt += 1
                await backoff(attempt)

    async def _lead(self) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(self._settings.database_url or ""))
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK):
                await asyncio.sleep(self._settings.relay_poll_interval_s)
            self.is_leader = True
            await conn.add_listener(OUTBOX_CHANNEL, self._notified)
            producer = self._producer or make_producer(self._settings)
            try:
                await producer.start()
                await self._publish_loop(conn, producer)
            finally:
                if self._producer is None:
                    await stop_quietly(producer)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _publish_loop(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> None:
        topic = self._settings.topic(self._settings.service)
        bootstrap = self._settings.kafka_bootstrap_servers or ""
        await ensure_topics(
            bootstrap,
            [topic],
            self._settings.topic_partitions,
            self._settings.topic_replication_factor,
        )
        loop = asyncio.get_running_loop()
        next_check = 0.0
        linger_s = self._settings.relay_linger_ms / 1000
        last_drain = -linger_s
        reader = make_offsets_reader(bootstrap)
        try:
            if self._settings.republish_on_empty_broker:
                await reader.start()
            while True:
                if self._settings.republish_on_empty_broker and loop.time() >= next_check:
                    if await self._republish_if_broker_lost_log(reader, topic):
                        await ensure_topics(
                            bootstrap,
                            [topic],
                            self._settings.topic_partitions,
                            self._settings.topic_replication_factor,
                        )
                    next_check = loop.time() + BROKER_CHECK_EVERY_S
                # under load, commits arriving within the linger share one drain
                since = loop.time() - last_drain
                if since < linger_s:
                    await asyncio.sleep(linger_s - since)
                self._wake.clear()
                # on the lock's own connection: were it lost, the lock went with it, and the
                # first statement of the drain fails (another relay may be leading by then)
                await self.drain(producer, conn)
                last_drain = loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.relay_poll_interval_s)
        finally:
            await stop_quietly(reader)

    async def _republish_if_broker_lost_log(self, reader: AIOKafkaConsumer, topic: str) -> bool:
        # A memory-only broker that restarted comes back empty. End offsets only ever grow on a
        # live broker (Tansu reports the last batch's base offset + 1, still monotonic), so a
        # smaller total than seen before, or an empty topic while rows are marked published,
        # means the log was lost.
        total = sum((await end_offsets(reader, topic)).values())
        lost = total < self._watermark
        if not lost and total == 0:
            async with self._engine.connect() as c:
                lost = bool((await c.execute(ANY_PUBLISHED)).scalar())
        if lost:
            count = await republish_all(self._engine)
            log.warning("broker lost its log: republishing %d events", count)
        self._watermark = total
        return lost

    def _record(self, row: outbox.PendingRow, source: str) -> tuple[str, KafkaRecord]:
        model = self._registry.model(row.event_name, row.event_version)
        meta = json.loads(row.metadata)
        fields = StoredFields(
            event_id=str(row.event_id),
            type_name=model.type_name(),
            event_name=row.event_name,
            event_version=row.event_version,
            occurred_at=row.occurred_at,
            stream_id=row.stream_id,
            stream_type=row.stream_type,
            stream_version=row.version,
            recorded_at=row.recorded_at,
            key=row.partition_key,
            metadata=Metadata(**meta),
        )
        return self._settings.topic(model.domain), encode_stored(fields, row.body.encode(), source)

    def _encode(self, rows: list[Any], source: str) -> tuple[list[Encoded], list[Parked]]:
        """Encode the whole batch before anything is sent; a row that cannot be encoded is
        parked, and the later rows of its key wait behind it (not sent, not marked)."""
        encoded: list[Encoded] = []
        parked: list[Parked] = []
        blocked: set[str] = set()
        for row in rows:
            if row.partition_key in blocked:
                continue
            try:
                topic, record = self._record(row, source)
            except (UnknownEventError, ValueError, TypeError, KeyError) as exc:
                parked.append((row, f"cannot encode: {type(exc).__name__}: {exc}"))
                blocked.add(row.partition_key)
                continue
            encoded.append((row, topic, record))
        return encoded, parked

    async def _send(
        self, producer: AIOKafkaProducer, batch: list[Encoded]
    ) -> tuple[list[Any], list[Parked]]:
        """Send the batch; returns the rows the broker took and the rows it refused for good."""
        # Per-partition order holds: aiokafka keeps one batch in flight per partition.
        transaction = (
            producer.transaction()
            if self._settings.kafka_transactional_id
            else contextlib.nullcontext()
        )
        sent: list[Any] = []
        refused: list[Parked] = []
        blocked: set[str] = set()
        async with transaction:
            futures = []
            for row, topic, record in batch:
                if row.partition_key in blocked:
                    continue
                try:
                    fut = await producer.send(
                        topic, record.value, key=record.key, headers=record.headers
                    )
                except ROW_FAULTS as exc:  # checked by the client before anything is sent
                    refused.append((row, f"refused: {type(exc).__name__}: {exc}"))
                    blocked.add(row.partition_key)
                    continue
                futures.append((row, fut))
            results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
        for (row, _), result in zip(futures, results, strict=True):
            if isinstance(result, ROW_FAULTS):
                refused.append((row, f"refused by the broker: {type(result).__name__}: {result}"))
            elif isinstance(result, BaseException):
                raise result  # broker away or the like: the whole batch is retried later
            else:
                sent.append(row)
        return sent, refused

    async def drain(self, producer: AIOKafkaProducer, conn: asyncpg.Connection) -> int:
        """Publish everything publishable now; returns how many events were sent.

        Reads and marks through `conn`, one autocommitted statement each: a row is marked
        only once the broker has it, and a crash between the two sends it again."""
        sent_total = 0
        source = self._settings.source
        limit = self._settings.relay_batch_size
        more = True
        while more:
            rows, more = await outbox.pending(conn, limit, self._settings.relay_batch_max_bytes)
            if not rows:
                break
            encoded, parked = self._encode(rows, source)
            del rows  # only the encoded records stay in memory while sending
            sent, refused = await self._send(producer, encoded)
            del encoded
            for row, error in [*parked, *refused]:
                await outbox.park(self._engine, row.global_id, error)
                log.error(
                    "outbox row %d (%s v%d of %s) parked: %s",
                    row.global_id,
                    row.event_name,
                    row.event_version,
                    row.stream_id,
                    error,
                )
            if sent:
                await raw.execute(conn, MARK, {"ids": [r.global_id for r in sent]})
            self._observe(sent)
            sent_total += len(sent)
            if not sent and not parked and not refused:
                break  # only held-back rows are left
        await self._measure_backlog()
        return sent_total

    def _observe(self, sent: list[Any]) -> None:
        now = self._clock.now().timestamp()
        latency = PUBLISH_LATENCY.labels(self._settings.service)
        for row in sent:
            latency.observe(max(0.0, now - row.recorded_at.timestamp()))
        EVENTS_PUBLISHED.labels(self._settings.service).inc(len(sent))

    async def _measure_backlog(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._backlog_at < BACKLOG_EVERY_S:
            return
        self._backlog_at = now
        async with self._engine.connect() as c:
            backlog = (await c.execute(BACKLOG)).scalar() or 0
        OUTBOX_BACKLOG.labels(self._settings.service).set(backlog)
