"""The consumer runner: projection change + inbox row in one transaction, then the Kafka commit.

A redelivered event finds its inbox row and changes nothing; a message that keeps failing
goes to the group's dead-letter topic with the error, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.events.cloudevents import MalformedCloudEventError, decode, header_map, parse_type
from shared.events.envelope import Envelope
from shared.events.registry import EventRegistry, UnknownEventError
from shared.messaging.kafka import backoff, ensure_topics, make_producer, stop_quietly
from shared.observability import CONSUMER_LAG, DLQ_TOTAL, EVENTS_CONSUMED
from shared.settings import Settings

log = logging.getLogger(__name__)
Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]
CLAIM = text(
    "INSERT INTO inbox (consumer, event_id) VALUES (:consumer, CAST(:event_id AS uuid))"
    " ON CONFLICT DO NOTHING RETURNING 1"
)


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
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._registry = registry
        # the prefix keeps deployments sharing a broker out of each other's groups
        self.group_id = f"{settings.topic_prefix}{group_id}"
        self._topics = topics
        self._handlers = dict(handlers)
        self._retry_delay_s = retry_delay_s
        self.dlq_topic = f"{self.group_id}.dlq"
        self.assigned = asyncio.Event()

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: resume from committed offsets
                log.warning("consumer %s paused: %s: %s", self.group_id, type(exc).__name__, exc)
                attempt += 1
                await backoff(attempt)

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
            max_poll_records=500,
        )
        producer = make_producer(self._settings, transactional=False)
        try:
            await consumer.start()
            await producer.start()
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                if consumer.assignment():
                    self.assigned.set()
                for tp, messages in batches.items():
                    for msg in messages:
                        await self.process(msg, producer)
                    await self._commit(consumer, tp, messages[-1].offset + 1)
                    hw = consumer.highwater(tp)
                    if hw is not None:
                        CONSUMER_LAG.labels(self.group_id, tp.topic, tp.partition).set(
                            max(0, hw - messages[-1].offset - 1)
                        )
        finally:
            await stop_quietly(consumer)
            await stop_quietly(producer)

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({tp: offset})
        except (CommitFailedError, IllegalStateError) as exc:
            # the partition moved to another member in a rebalance: it will redeliver, the
            # inbox makes that harmless
            log.info("commit skipped for %s after rebalance: %s", tp, exc)

    async def process(self, msg: ConsumerRecord[Any, Any], producer: AIOKafkaProducer) -> str:
        """Apply one message; returns 'applied', 'duplicate', 'ignored' or 'dead-lettered'."""
        try:
            name, _ = parse_type(header_map(msg.headers).get("ce_type", ""))
        except MalformedCloudEventError as exc:
            return await self._dead_letter(msg, producer, exc)
        handler = self._handlers.get(name)
        if handler is None:
            EVENTS_CONSUMED.labels(self.group_id, "ignored").inc()
            return "ignored"
        try:
            envelope = decode(msg.headers, msg.value, self._registry)
        except (MalformedCloudEventError, UnknownEventError) as exc:
            return await self._dead_letter(msg, producer, exc)
        last: Exception | None = None
        for attempt in range(self._settings.consumer_max_attempts):
            try:
                outcome = await self._apply(handler, envelope)
                EVENTS_CONSUMED.labels(self.group_id, outcome).inc()
                return outcome
            except Exception as exc:  # a handler fault: retry, then dead-letter
                last = exc
                log.warning(
                    "handler failed for %s (attempt %d): %s", envelope.event_id, attempt + 1, exc
                )
                await asyncio.sleep(self._retry_delay_s * (attempt + 1))
        assert last is not None
        return await self._dead_letter(msg, producer, last)

    async def _apply(self, handler: Handler, envelope: Envelope) -> str:
        async with self._engine.begin() as conn:
            claimed = await conn.execute(
                CLAIM, {"consumer": self.group_id, "event_id": str(envelope.event_id)}
            )
            if claimed.first() is None:
                return "duplicate"
            await handler(conn, envelope)
        return "applied"

    async def _dead_letter(
        self, msg: ConsumerRecord[Any, Any], producer: AIOKafkaProducer, exc: Exception
    ) -> str:
        headers = [
            *list(msg.headers),
            ("x-dlq-error", f"{type(exc).__name__}: {exc}"[:2000].encode()),
            ("x-dlq-group", self.group_id.encode()),
            ("x-dlq-topic", msg.topic.encode()),
            ("x-dlq-partition", str(msg.partition).encode()),
            ("x-dlq-offset", str(msg.offset).encode()),
        ]
        try:
            await producer.send_and_wait(self.dlq_topic, msg.value, key=msg.key, headers=headers)
        except KafkaError:
            raise  # without the dead letter we must not move on: the runner backs off
        DLQ_TOTAL.labels(self.group_id).inc()
        EVENTS_CONSUMED.labels(self.group_id, "dead-lettered").inc()
        log.error("dead-lettered %s/%d@%d: %s", msg.topic, msg.partition, msg.offset, exc)
        return "dead-lettered"
