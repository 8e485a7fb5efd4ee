"""Partitions a consumer holds back: paused at the failed offset, resumed after a backoff.

The stalls of every runner in the process are kept here too, for the readiness probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.messaging.kafka import backoff_delay
from shared.observability import CONSUMER_STALLED

log = logging.getLogger(__name__)
STALL_CAP_S = 5.0
RUNNER = "consumer"  # the stall key of a runner that cannot reach its broker or database
#: group -> {"topic/partition" or RUNNER: why it waits}
_STALLS: dict[str, dict[str, str]] = {}


def stalled_consumers() -> dict[str, dict[str, str]]:
    """The consumer groups of this process that are holding messages back, and why."""
    return {group: dict(parts) for group, parts in _STALLS.items() if parts}


class PartitionPauses:
    def __init__(self, group_id: str) -> None:
        self._group = group_id
        self.stalls: dict[str, str] = _STALLS.setdefault(group_id, {})
        self._paused: dict[TopicPartition, tuple[float, int]] = {}  # resume time, attempt

    def __bool__(self) -> bool:
        return bool(self._paused)

    def runner_stalled(self, why: str) -> None:
        self.stalls[RUNNER] = why[:300]

    def clear(self) -> None:
        self.stalls.clear()
        self._paused.clear()
        CONSUMER_STALLED.labels(self._group).set(0)

    def pause(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int, why: str) -> None:
        """Hold `tp` at `offset` (uncommitted) and fetch it again after a backoff."""
        if tp not in consumer.assignment():
            return  # revoked meanwhile: its next owner starts from the committed offset
        _, attempt = self._paused.get(tp, (0.0, 0))
        attempt += 1
        consumer.pause(tp)
        consumer.seek(tp, offset)
        delay = backoff_delay(attempt, STALL_CAP_S)
        self._paused[tp] = (asyncio.get_running_loop().time() + delay, attempt)
        key = f"{tp.topic}/{tp.partition}"
        if key not in self.stalls or attempt % 10 == 1:
            log.warning(
                "consumer %s holds %s@%d (retry in %.1fs): %s", self._group, key, offset, delay, why
            )
        self.stalls[key] = why[:300]
        self._measure()

    def resume_due(self, consumer: AIOKafkaConsumer, now: float) -> None:
        for tp, (due, attempt) in list(self._paused.items()):
            if now >= due and tp in consumer.assignment() and tp in consumer.paused():
                consumer.resume(tp)
                # the attempt count stays until a message of the partition goes through
                self._paused[tp] = (float("inf"), attempt)

    async def settle_caught_up(
        self, consumer: AIOKafkaConsumer, fetched: Collection[TopicPartition]
    ) -> None:
        """Forget the stall of a partition that is fetched again and has nothing left to give.

        A rebalance may hand a held partition away and back within one poll: the consumer then
        fetches it unpaused from the committed offset, which another member may have moved past
        the message we held. No message would ever clear its stall, so readiness would say
        "stalled" forever. A partition fetched unpaused whose position is at its high water
        holds nothing back.
        """
        for tp, (due, attempt) in list(self._paused.items()):
            if tp in fetched or tp not in consumer.assignment() or tp in consumer.paused():
                continue
            if due != float("inf"):
                self._paused[tp] = (float("inf"), attempt)  # unpaused behind our back
            high = consumer.highwater(tp)
            if high is not None and await consumer.position(tp) >= high:
                self.recovered(tp)

    def forget_revoked(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        for tp in [tp for tp in self._paused if tp not in assigned]:
            self.recovered(tp)

    def recovered(self, tp: TopicPartition) -> None:
        self._paused.pop(tp, None)
        if self.stalls.pop(f"{tp.topic}/{tp.partition}", None) is not None:
            log.info("consumer %s resumed %s/%d", self._group, tp.topic, tp.partition)
            self._measure()

    def _measure(self) -> None:
        CONSUMER_STALLED.labels(self._group).set(len([k for k in self.stalls if k != RUNNER]))
