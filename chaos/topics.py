"""What the broker holds: event ids per topic, dead-letter topics, consumer groups and lag."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.seed import consumer_lag

#: the groups the services run today and the domains they consume (a group with a dead-letter
#: topic or listed by the broker is found as well, its topics from its committed offsets)
KNOWN_GROUPS: dict[str, tuple[str, ...]] = {
    "pipeline-collab": ("collab",),
    "collab-timeline": ("pipeline", "collab"),
    "collab-conflicts": ("pipeline", "collab"),
    "scoring-pipeline": ("pipeline",),
    "scoring-collab": ("collab",),
    "alert-pipeline": ("pipeline",),
    "alert-org": ("collab",),
    "alert-webhooks": ("alert",),
}
READ_TIMEOUT_S = 60.0


async def list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


async def read_ids(bootstrap: str, topic: str) -> Counter[str]:
    """How many times each CloudEvents id (`ce_id` header) sits on `topic`, read to its end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
        max_poll_records=2000,
    )
    ids: Counter[str] = Counter()
    try:
        await consumer.start()
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return ids
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        async with asyncio.timeout(READ_TIMEOUT_S):
            while pending:
                batches = await consumer.getmany(timeout_ms=200)
                for tp, messages in batches.items():
                    for msg in messages:
                        headers = dict(msg.headers or ())
                        ids[headers.get("ce_id", b"").decode()] += 1
                    if messages and messages[-1].offset + 1 >= ends[tp]:
                        pending.discard(tp)
        return ids
    finally:
        await consumer.stop()


async def message_count(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            return 0
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


async def consumer_groups(bootstrap: str, prefix: str, topics: list[str]) -> list[str]:
    """The known groups, those the broker lists, and those that own a dead-letter topic."""
    groups = {f"{prefix}{g}" for g in KNOWN_GROUPS}
    groups |= {t.removesuffix(".dlq") for t in topics if t.endswith(".dlq")}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    with contextlib.suppress(Exception):  # a broker may not implement ListGroups
        await admin.start()
        groups |= {g[0] for g in await admin.list_consumer_groups() if g[0].startswith(prefix)}
    await admin.close()
    return sorted(groups)


async def group_topics(bootstrap: str, group: str, candidates: list[str]) -> list[str]:
    """The topics of `candidates` that `group` has committed offsets on."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        await admin.start()
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sorted({tp.topic for tp in committed} & set(candidates))


async def lag_by_group(
    bootstrap: str, prefix: str, groups: list[str], topics: list[str]
) -> dict[str, int]:
    """Events on the topics each group consumes that it has not committed yet."""
    lags = {}
    for group in groups:
        known = KNOWN_GROUPS.get(group.removeprefix(prefix))
        if known is not None:
            consumed = [f"{prefix}{domain}.events" for domain in known]
        else:
            consumed = await group_topics(bootstrap, group, topics)
        lags[group] = await consumer_lag(bootstrap, (group,), consumed) if consumed else 0
    return lags
