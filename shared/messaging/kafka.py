"""Producer, admin and offset helpers over aiokafka, configured from Settings."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared.settings import Settings

log = logging.getLogger(__name__)
#: room for CloudEvents headers and record framing above the largest accepted body
RECORD_HEADROOM_BYTES = 64 * 1024


def make_producer(settings: Settings, transactional: bool = True) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"sightline-{settings.service}",
        acks="all",
        linger_ms=1,
        request_timeout_ms=10_000,
        # an event is at most max_event_bytes (far below the body limit), so no stored event
        # can be refused by our own producer; the broker's message.max.bytes must match
        max_request_size=settings.max_body_bytes + RECORD_HEADROOM_BYTES,
        # the embedded broker cannot do InitProducerId; production may switch these on
        enable_idempotence=settings.kafka_enable_idempotence,
        transactional_id=settings.kafka_transactional_id if transactional else None,
    )


async def ensure_topics(
    bootstrap: str, topics: list[str], partitions: int, replication_factor: int = 1
) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        response = await admin.create_topics(
            [NewTopic(t, partitions, replication_factor) for t in topics]
        )
        # errors come back per topic in the response, not as exceptions
        for topic, code, *rest in response.topic_errors:
            if code and code != TopicAlreadyExistsError.errno:
                raise for_code(code)(f"creating topic {topic}: {rest[0] if rest else ''}")
    finally:
        await admin.close()


def make_offsets_reader(bootstrap: str) -> AIOKafkaConsumer:
    """A group-less consumer kept open to read end offsets (a cheap ListOffsets each time)."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)


async def end_offsets(reader: AIOKafkaConsumer, topic: str) -> dict[int, int]:
    """High watermark per partition of `topic` (empty if the topic does not exist)."""
    partitions = reader.partitions_for_topic(topic)
    if not partitions:
        await reader._client.force_metadata_update()
        partitions = reader.partitions_for_topic(topic) or set()
    tps = [TopicPartition(topic, p) for p in partitions]
    offsets = await reader.end_offsets(tps) if tps else {}
    return {tp.partition: off for tp, off in offsets.items()}


async def stop_quietly(client: Any, timeout_s: float = 5.0) -> None:
    """Stop an aiokafka client without letting a slow or absent broker hold shutdown up."""
    try:
        await asyncio.wait_for(client.stop(), timeout_s)
    except Exception as exc:  # timed out or broker gone: the process is shutting down anyway
        log.warning("%s did not stop cleanly: %s", type(client).__name__, exc)


def backoff_delay(attempt: int, cap_s: float = 5.0) -> float:
    """Exponential: 0.2 s, 0.4 s, 0.8 s ... up to `cap_s`."""
    return float(min(cap_s, 0.1 * 2 ** min(max(attempt, 0), 10)))


async def backoff(attempt: int, cap_s: float = 5.0) -> None:
    await asyncio.sleep(backoff_delay(attempt, cap_s))
