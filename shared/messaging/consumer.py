"""The consumer runner: projection change + inbox row in one transaction, then the Kafka commit.

A redelivered event finds its inbox row and changes nothing. An infrastructure fault (database,
pool, broker) or an event version newer than this process knows pauses the partition: the
offset stays uncommitted and the message is retried with backoff for as long as it takes. Only
a message that fails deterministically is parked in the `dead_letters` table (and copied,
best effort, to the group's dead-letter topic); `sightline dead-letters replay` brings it back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.events.cloudevents import MalformedCloudEventError, decode, header_map, parse_type
from shared.events.envelope import Envelope
from shared.events.registry import EventRegistry, UnknownEventError
from shared.messaging import deadletters
from shared.messaging.faults import is_transient
from shared.messaging.kafka import backoff, ensure_topics, make_producer, stop_quietly
from shared.messaging.pauses import PartitionPauses, stalled_consumers
from shared.observability import CONSUMER_LAG, DLQ_TOTAL, EVENTS_CONSUMED
from shared.settings import Settings

__all__ = ["ConsumerRunner", "Handler", "StallError", "stalled_consumers"]
log = logging.getLogger(__name__)
Handler = Callable[[AsyncConnection, Envelope], Awaitable[None]]
AfterApply = Callable[[AsyncConnection], Awaitable[None]]
CLAIM = text(
    "INSERT INTO inbox (consumer, event_id) VALUES (:consumer, CAST(:event_id AS uuid))"
    " ON CONFLICT DO NOTHING RETURNING 1"
)


class StallError(Exception):
    """Not the message's fault: keep it, pause the partition, try again later."""


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
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._registry = registry
        # the prefix keeps deployments sharing a broker out of each other's groups
        self.group_id = f"{settings.topic_prefix}{group_id}"
        self._topics = topics
        self._handlers = dict(handlers)
        self._retry_delay_s = retry_delay_s
        self._replay_interval_s = replay_interval_s
        self.dlq_topic = f"{self.group_id}.dlq"
        self.assigned = asyncio.Event()
        self.pauses = PartitionPauses(self.group_id)

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
            max_poll_records=500,
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
        for msg in messages:
            try:
                await self.process(msg, producer)
            except StallError as stall:
                self.pauses.pause(consumer, tp, msg.offset, str(stall))
                break
            done = msg.offset + 1
            self.pauses.recovered(tp)
        if done is None:
            return
        await self._commit(consumer, tp, done)
        hw = consumer.highwater(tp)
        if hw is not None:
            CONSUMER_LAG.labels(self.group_id, tp.topic, tp.partition).set(max(0, hw - done))

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

    def _decode(self, msg: ConsumerRecord[Any, Any]) -> tuple[Envelope | None, Handler | None]:
        name, version = parse_type(header_map(msg.headers).get("ce_type", ""))
        handler = self._handlers.get(name)
        if handler is None:
            return None, None
        latest = self._registry.latest(name)
        if latest is None or version > latest:
            # a producer upgraded before this consumer (rolling deploy): wait for our upgrade
            raise StallError(f"{name} v{version} is newer than this process knows")
        return decode(msg.headers, msg.value, self._registry), handler

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

    async def _park(
        self, msg: ConsumerRecord[Any, Any], producer: AIOKafkaProducer, exc: Exception
    ) -> str:
        error = f"{type(exc).__name__}: {exc}"
        try:
            async with self._engine.begin() as conn:
                await deadletters.park(conn, self.group_id, msg, error)
        except Exception as fault:  # without the durable dead letter we must not move on
            raise StallError(
                f"cannot park a dead letter: {type(fault).__name__}: {fault}"
            ) from fault
        await self._copy_to_dlq_topic(msg, producer, error)
        DLQ_TOTAL.labels(self.group_id).inc()
        EVENTS_CONSUMED.labels(self.group_id, "dead-lettered").inc()
        log.error("dead-lettered %s/%d@%d: %s", msg.topic, msg.partition, msg.offset, error)
        return "dead-lettered"

    async def _copy_to_dlq_topic(
        self, msg: ConsumerRecord[Any, Any], producer: AIOKafkaProducer, error: str
    ) -> None:
        headers = [
            *list(msg.headers),
            ("x-dlq-error", error[:2000].encode()),
            ("x-dlq-group", self.group_id.encode()),
            ("x-dlq-topic", msg.topic.encode()),
            ("x-dlq-partition", str(msg.partition).encode()),
            ("x-dlq-offset", str(msg.offset).encode()),
        ]
        try:
            await asyncio.wait_for(
                producer.send_and_wait(self.dlq_topic, msg.value, key=msg.key, headers=headers),
                timeout=10,
            )
        except Exception as exc:  # the table holds the dead letter; the topic is a convenience
            log.warning("dead letter not copied to %s: %s", self.dlq_topic, exc)

    async def replay_requested(self) -> int:
        """Apply the dead letters flagged for replay again, through the inbox; returns how many."""
        try:
            rows = await deadletters.due_replays(self._engine, self.group_id)
        except Exception as exc:  # database away: the next round tries again
            log.warning("dead-letter replay check failed: %s", exc)
            return 0
        done = 0
        for row in rows:
            done += await self._replay_one(row)
        return done

    async def _replay_one(self, row: Any) -> int:
        msg: ConsumerRecord[Any, Any] = ConsumerRecord(
            row.topic,
            row.partition,
            row.offset,
            0,
            0,
            row.key,
            row.value,
            None,
            0,
            0,
            tuple(deadletters.decode_headers(row.headers)),
        )

        async def resolved(conn: AsyncConnection) -> None:
            await deadletters.mark_replayed(conn, row.id)

        try:
            envelope, handler = self._decode(msg)
            if envelope is None or handler is None:
                async with self._engine.begin() as conn:
                    await resolved(conn)  # nothing handles it any more: nothing to replay
                return 1
            await self._apply(handler, envelope, after=resolved)
        except StallError as exc:
            log.warning("replay of dead letter %d waits: %s", row.id, exc)
            return 0
        except Exception as exc:
            if is_transient(exc) or not await self._database_healthy():
                log.warning("replay of dead letter %d waits: %s", row.id, exc)
                return 0
            await deadletters.mark_failed_again(
                self._engine, row.id, f"{type(exc).__name__}: {exc}"
            )
            log.error("replay of dead letter %d failed again: %s", row.id, exc)
            return 0
        log.info("dead letter %d replayed", row.id)
        return 1
