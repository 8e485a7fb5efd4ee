"""The consumer runner: projection change + inbox row in one transaction, then the Kafka commit.

What one fetch returns for a partition is applied in one transaction (shared/messaging/batch.py):
inbox rows claimed in bulk, handlers run for the claimed events in offset order, one commit,
then the offset. A redelivered event finds its inbox row and changes nothing. An
infrastructure fault (database, pool, broker) or an event version newer than this process
knows pauses the partition: the offset stays uncommitted and the message is retried with
backoff for as long as it takes. A batch that fails deterministically is rolled back and
applied again one event at a time, so only a message that fails on its own is parked in the
`dead_letters` table (and copied, best effort, to the group's dead-letter topic);
`sightline dead-letters replay` brings it back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.events.cloudevents import (
    MalformedCloudEventError,
    decode_mapped,
    header_map,
    parse_type,
)
from shared.events.envelope import Envelope
from shared.events.registry import EventRegistry, UnknownEventError
from shared.messaging import batch, deadletters
from shared.messaging.batch import BatchHandler, Handler
from shared.messaging.faults import StallError, is_transient
from shared.messaging.kafka import backoff, ensure_topics, make_producer, stop_quietly
from shared.messaging.pauses import PartitionPauses, stalled_consumers
from shared.messaging.replay import AfterApply, Replays
from shared.observability import CONSUMER_LAG, EVENTS_CONSUMED
from shared.settings import Settings

__all__ = ["BatchHandler", "ConsumerRunner", "Handler", "StallError", "stalled_consumers"]
log = logging.getLogger(__name__)
CLAIM = text(
    "INSERT INTO inbox (consumer, event_id) VALUES (:consumer, CAST(:event_id AS uuid))"
    " ON CONFLICT DO NOTHING RETURNING 1"
)


def one_at_a_time(bulk: BatchHandler) -> Handler:
    async def handle(conn: AsyncConnection, envelope: Envelope) -> None:
        await bulk(conn, [envelope])

    return handle


class ConsumerRunner:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        registry: EventRegistry,
        group_id: str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        retry_delay_s: float = 0.05,
        replay_interval_s: float = 2.0,
        batch_handlers: Mapping[str, BatchHandler] | None = None,
        batch_max: int | None = None,
    ) -> None:
        """`batch_handlers` write several events at once (used instead of `handlers` for their
        names, with a list of one on the one-at-a-time path); `batch_max` caps a transaction
        (default `SIGHTLINE_CONSUMER_BATCH_MAX`; 1 applies one event per transaction)."""
        self._engine = engine
        self._settings = settings
        self._registry = registry
        # the prefix keeps deployments sharing a broker out of each other's groups
        self.group_id = f"{settings.topic_prefix}{group_id}"
        self._topics = topics
        self._batch_handlers = dict(batch_handlers or {})
        self._handlers = {
            **handlers,
            **{name: one_at_a_time(bulk) for name, bulk in self._batch_handlers.items()},
        }
        self._batch_max = max(1, batch_max or settings.consumer_batch_max)
        self._retry_delay_s = retry_delay_s
        self._replay_interval_s = replay_interval_s
        self.dlq_topic = f"{self.group_id}.dlq"
        self.assigned = asyncio.Event()
        self.pauses = PartitionPauses(self.group_id)
        self._replays = Replays(
            engine, self.group_id, self._decode, self._apply, self._database_healthy
        )

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics the group consumes (its dead-letter topic aside)."""
        return tuple(self._topics)

    async def run(self) -> None:
        attempt = 0
        try:
            while True:
                try:
                    await self._consume()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # broker or database away: resume from committed offsets
                    why = f"{type(exc).__name__}: {exc}"
                    self.pauses.runner_stalled(why)
                    log.warning("consumer %s paused: %s", self.group_id, why)
                    attempt += 1
                    await backoff(attempt)
        finally:
            self.pauses.clear()

    async def _consume(self) -> None:
        bootstrap = self._settings.kafka_bootstrap_servers or ""
        await ensure_topics(
            bootstrap,
            [*self._topics, self.dlq_topic],
            self._settings.topic_partitions,
            self._settings.topic_replication_factor,
        )
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=bootstrap,
            group_id=self.group_id,
            client_id=f"{self.group_id}-{self._settings.service}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._settings.fetch_max_wait_ms,
            max_poll_records=max(500, self._batch_max),
        )
        producer = make_producer(self._settings, transactional=False)
        loop = asyncio.get_running_loop()
        next_replay = 0.0
        self.pauses.clear()
        try:
            await consumer.start()
            await producer.start()
            while True:
                self.pauses.resume_due(consumer, loop.time())
                batches = await consumer.getmany(timeout_ms=200 if self.pauses else 500)
                if consumer.assignment():
                    self.assigned.set()
                self.pauses.forget_revoked(consumer)
                await self.pauses.settle_caught_up(consumer, batches.keys())
                for tp, messages in batches.items():
                    await self._process_partition(consumer, producer, tp, messages)
                if loop.time() >= next_replay:
                    await self.replay_requested()
                    next_replay = loop.time() + self._replay_interval_s
        finally:
            self.pauses.clear()
            await stop_quietly(consumer)
            await stop_quietly(producer)

    async def _process_partition(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        tp: TopicPartition,
        messages: list[ConsumerRecord[Any, Any]],
    ) -> None:
        done: int | None = None
        for step in batch.plan(messages, self._decode, self._batch_max):
            try:
                if isinstance(step, batch.Run):
                    await self._apply_run(step, producer)
                else:
                    await self.process(step.msg, producer)
            except StallError as stall:
                at = stall.offset if stall.offset is not None else step.first_offset
                self.pauses.pause(consumer, tp, at, str(stall))
                if at > messages[0].offset:
                    done = at  # everything before it is applied
                break
            done = step.last_offset + 1
            self.pauses.recovered(tp)
        if done is None:
            return
        await self._commit(consumer, tp, done)
        hw = consumer.highwater(tp)
        if hw is not None:
            CONSUMER_LAG.labels(self.group_id, tp.topic, tp.partition).set(max(0, hw - done))

    async def _apply_run(self, run: batch.Run, producer: AIOKafkaProducer) -> None:
        """One transaction for the run; after a deterministic failure, one event at a time.

        Raises StallError (at the run's first offset, or at the message that must wait on the
        one-at-a-time path) when the run cannot be applied now.
        """
        if not any(item.handler for item in run.items):
            EVENTS_CONSUMED.labels(self.group_id, "ignored").inc(len(run.items))
            return  # nothing here wants them: no transaction at all
        if len(run.items) > 1:
            try:
                async with self._engine.begin() as conn:
                    counts = await batch.apply(conn, self.group_id, run.items, self._batch_handlers)
            except Exception as exc:
                await self._raise_if_infrastructure(exc)
                log.warning(
                    "batch of %d at %s/%d@%d failed (%s: %s); applying one at a time",
                    len(run.items),
                    run.items[0].msg.topic,
                    run.items[0].msg.partition,
                    run.first_offset,
                    type(exc).__name__,
                    exc,
                )
            else:
                for outcome, n in counts.items():
                    if n:
                        EVENTS_CONSUMED.labels(self.group_id, outcome).inc(n)
                return
        for item in run.items:
            try:
                await self._process_decoded(item, producer)
            except StallError as stall:
                stall.offset = item.msg.offset
                raise

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            # the partition moved to another member in a rebalance: it will redeliver, the
            # inbox makes that harmless
            log.info("commit skipped for %s after rebalance: %s", tp, exc)

    async def process(self, msg: ConsumerRecord[Any, Any], producer: AIOKafkaProducer) -> str:
        """Apply one message: 'applied', 'duplicate', 'ignored' or 'dead-lettered'.

        Raises StallError when the message must wait (infrastructure fault, newer version).
        """
        try:
            envelope, handler = self._decode(msg)
        except (MalformedCloudEventError, UnknownEventError) as exc:
            return await self._park(msg, producer, exc)
        return await self._process_decoded(batch.Item(msg, envelope, handler), producer)

    async def _process_decoded(self, item: batch.Item, producer: AIOKafkaProducer) -> str:
        """`process` for a message already decoded (as every message of a run is)."""
        msg, envelope, handler = item.msg, item.envelope, item.handler
        if handler is None or envelope is None:
            EVENTS_CONSUMED.labels(self.group_id, "ignored").inc()
            return "ignored"
        failures = 0
        while True:
            try:
                outcome = await self._apply(handler, envelope)
            except Exception as exc:
                await self._raise_if_infrastructure(exc)
                failures += 1
                log.warning(
                    "handler failed for %s (attempt %d): %s: %s",
                    envelope.event_id,
                    failures,
                    type(exc).__name__,
                    exc,
                )
                if failures >= self._settings.consumer_max_attempts:
                    return await self._park(msg, producer, exc)
                await asyncio.sleep(self._retry_delay_s * failures)
            else:
                EVENTS_CONSUMED.labels(self.group_id, outcome).inc()
                return outcome

    async def _park(
        self, msg: ConsumerRecord[Any, Any], producer: AIOKafkaProducer, exc: Exception
    ) -> str:
        await deadletters.park_message(
            self._engine, self.group_id, self.dlq_topic, msg, producer, exc
        )
        return "dead-lettered"

    def _decode(self, msg: ConsumerRecord[Any, Any]) -> tuple[Envelope | None, Handler | None]:
        headers = header_map(msg.headers)
        name, version = parse_type(headers.get("ce_type", ""))
        handler = self._handlers.get(name)
        if handler is None:
            return None, None
        latest = self._registry.latest(name)
        if latest is None or version > latest:
            # a producer upgraded before this consumer (rolling deploy): wait for our upgrade
            raise StallError(f"{name} v{version} is newer than this process knows")
        return decode_mapped(headers, msg.value, self._registry), handler

    async def _raise_if_infrastructure(self, exc: Exception) -> None:
        """A fault of the database or broker, or any error while the database is unhealthy."""
        if is_transient(exc) or not await self._database_healthy():
            raise StallError(f"{type(exc).__name__}: {exc}") from exc

    async def _database_healthy(self) -> bool:
        try:
            async with self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure: the database is not healthy right now
            return False
        return True

    async def _apply(
        self, handler: Handler, envelope: Envelope, after: AfterApply | None = None
    ) -> str:
        async with self._engine.begin() as conn:
            claimed = await conn.execute(
                CLAIM, {"consumer": self.group_id, "event_id": str(envelope.event_id)}
            )
            outcome = "duplicate"
            if claimed.first() is not None:
                await handler(conn, envelope)
                outcome = "applied"
            if after is not None:
                await after(conn)
        return outcome

    async def replay_requested(self) -> int:
        """Apply the dead letters flagged for replay again, through the inbox; returns how many."""
        return await self._replays.run()
