"""Reading topics from their beginning up to given end offsets, without a consumer group.

No group means no rebalance, no committed offsets and nothing the live consumers would notice.
The reader remembers where each partition stands, so a later `read_until` (the catch-up before
the swap) goes on from there; `rewind` undoes a read whose effects were rolled back.

End offsets come from a fetch, not from ListOffsets alone: the embedded Tansu answers ListOffsets
with the last record batch's base offset + 1, short of the batch's other records, while its fetch
responses carry the true high watermark. A new consumer fetches the last batch of each partition,
so every answer it gets was computed after the call began (the swap relies on that).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.messaging.kafka import stop_quietly

log = logging.getLogger(__name__)

Offsets = dict[TopicPartition, int]
#: records handed over per batch at most (one transaction each)
BATCH_RECORDS = 5000
PROBE_TIMEOUT_S = 30.0


class EndOffsetsError(Exception):
    """The broker did not answer the fetches that tell where the partitions end."""


class TopicReader:
    def __init__(
        self,
        bootstrap: str,
        topics: tuple[str, ...],
        fetch_max_wait_ms: int = 10,
        batch_records: int = BATCH_RECORDS,
    ) -> None:
        self._bootstrap = bootstrap
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self._topics = topics
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=fetch_max_wait_ms,
            max_poll_records=batch_records,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        self.positions: Offsets = {}
        self._beginnings: Offsets = {}
        self.missing: list[str] = []

    async def start(self, positions: Offsets | None = None) -> None:
        """Assign every partition of the topics and go to their beginning, or assign the given
        partitions at the given offsets (a worker's share). Nothing is fetched until a read."""
        consumer = self._consumer
        await consumer.start()
        if positions is not None:
            partitions = list(positions)
            self._beginnings = dict(positions)
        else:
            partitions = await self._all_partitions()
        consumer.assign(partitions)
        if partitions:
            if positions is None:
                self._beginnings = dict(await consumer.beginning_offsets(partitions))
            self.positions = dict(self._beginnings)
            for tp, offset in self.positions.items():
                consumer.seek(tp, offset)
            consumer.pause(*partitions)

    async def _all_partitions(self) -> list[TopicPartition]:
        consumer = self._consumer
        await consumer._client.force_metadata_update()
        partitions: list[TopicPartition] = []
        for topic in self._topics:
            found = consumer.partitions_for_topic(topic)
            if not found:
                self.missing.append(topic)  # never created: nothing to replay from it
                continue
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        return partitions

    async def stop(self) -> None:
        await stop_quietly(self._consumer)

    async def end_offsets(self, prober: AIOKafkaConsumer | None = None) -> Offsets:
        """Where each partition ends now: at least everything written before this call.

        `prober`: a started consumer that has fetched nothing yet (see `new_prober`), for a
        caller that wants the connection made before the moment that counts."""
        tps = list(self.positions)
        if not tps:
            return {}
        listed: Offsets = dict(await self._consumer.end_offsets(tps))
        nonempty = {tp: end for tp, end in listed.items() if end > self._beginnings.get(tp, 0)}
        if nonempty:
            own = prober is None
            prober = prober or await self.new_prober()
            try:
                watermarks = await _probe(prober, nonempty)
            finally:
                if own:
                    await stop_quietly(prober)
            listed.update({tp: max(listed[tp], watermarks[tp]) for tp in nonempty})
        return listed

    async def new_prober(self) -> AIOKafkaConsumer:
        prober = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._fetch_max_wait_ms,
            max_partition_fetch_bytes=64 * 1024,
        )
        await prober.start()
        return prober

    def remaining(self, ends: Offsets) -> int:
        return sum(max(0, end - self.positions.get(tp, 0)) for tp, end in ends.items())

    def rewind(self, positions: Offsets) -> None:
        for tp, offset in positions.items():
            self._consumer.seek(tp, offset)
        self.positions = dict(positions)

    async def read_until(self, ends: Offsets) -> AsyncIterator[list[ConsumerRecord[Any, Any]]]:
        """Batches of records below `ends`, partition by partition in offset order."""
        consumer = self._consumer
        open_tps = {tp for tp, end in ends.items() if self.positions.get(tp, 0) < end}
        consumer.resume(*open_tps)
        consumer.pause(*(set(self.positions) - open_tps))
        while open_tps:
            fetched = await consumer.getmany(*open_tps, timeout_ms=500)
            batch: list[ConsumerRecord[Any, Any]] = []
            for tp, records in fetched.items():
                end = ends[tp]
                batch += [r for r in records if r.offset < end]
                if records:
                    self.positions[tp] = min(end, records[-1].offset + 1)
            for tp in list(open_tps):
                # offsets may jump (compaction, transaction markers): ask where the fetch stands
                position = max(self.positions[tp], await consumer.position(tp))
                if position >= ends[tp]:
                    open_tps.discard(tp)
                    consumer.seek(tp, ends[tp])  # drop anything prefetched past the end
                    consumer.pause(tp)
                    self.positions[tp] = ends[tp]
            if batch:
                yield batch
            else:
                await asyncio.sleep(0)


async def _probe(prober: AIOKafkaConsumer, listed: Offsets) -> Offsets:
    """The high watermark of each partition, from the prober's first fetches: each answer was
    computed after the prober was assigned the partition."""
    prober.assign(list(listed))
    for tp, end in listed.items():
        prober.seek(tp, end - 1)  # the last batch, as ListOffsets names it
    pending = set(listed)
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    while pending:
        if time.monotonic() > deadline:
            raise EndOffsetsError(f"no fetch answer for {sorted(map(str, pending))}")
        await prober.getmany(*pending, timeout_ms=100)
        pending = {tp for tp in pending if prober.highwater(tp) is None}
    return {tp: int(prober.highwater(tp) or 0) for tp in listed}


async def committed_offsets(
    admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]
) -> Offsets:
    """The offsets `group` committed (0 where it committed none, or if the broker cannot say:
    the caller then treats every offset as not yet committed, which is safe)."""
    try:
        found = await admin.list_consumer_group_offsets(group, partitions=partitions)
    except Exception as exc:  # no answer: everything counts as not committed
        log.warning("committed offsets of %s unknown (%s): handing over every claim", group, exc)
        return {}
    return {tp: meta.offset for tp, meta in found.items() if meta is not None and meta.offset > 0}
