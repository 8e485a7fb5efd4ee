"""PartitionPauses: a held partition's stall is cleared only when nothing is held back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiokafka import TopicPartition

from shared.messaging.pauses import PartitionPauses, stalled_consumers

TP = TopicPartition("pipeline.events", 1)
GROUPS = ("g-wait", "g-moved")


@pytest.fixture(autouse=True)
def _stalls_end_with_the_test() -> Iterator[None]:
    """The stalls are the process's (the readiness probe reads them): a stall left here would
    make every service started later in the same test run not ready."""
    yield
    for group in GROUPS:
        PartitionPauses(group).clear()
    assert not set(GROUPS) & set(stalled_consumers())


class FakeConsumer:
    """The slice of AIOKafkaConsumer the pauses use, with positions we set."""

    def __init__(self) -> None:
        self._assigned = {TP}
        self._paused: set[TopicPartition] = set()
        self.positions = {TP: 0}
        self.high: dict[TopicPartition, int] = {TP: 10}

    def assignment(self) -> set[TopicPartition]:
        return self._assigned

    def paused(self) -> set[TopicPartition]:
        return self._paused

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.high.get(tp)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def rebalanced_back(self) -> None:
        """Revoked and assigned again within one poll: the new assignment is not paused."""
        self._paused.clear()


async def test_a_held_partition_stays_stalled_while_its_message_waits() -> None:
    pauses, consumer = PartitionPauses("g-wait"), FakeConsumer()
    pauses.pause(consumer, TP, 7, "database away")
    await pauses.settle_caught_up(consumer, [])
    consumer.rebalanced_back()  # fetched again from offset 7, message 7 still there
    await pauses.settle_caught_up(consumer, [])
    assert stalled_consumers()["g-wait"] == {"pipeline.events/1": "database away"}


async def test_a_partition_given_back_past_the_held_message_is_no_longer_stalled() -> None:
    pauses, consumer = PartitionPauses("g-moved"), FakeConsumer()
    pauses.pause(consumer, TP, 7, "database away")
    consumer.rebalanced_back()
    consumer.positions[TP] = 10  # another member applied 7..9 and committed 10
    await pauses.settle_caught_up(consumer, [TP])
    assert "g-moved" in stalled_consumers()  # this poll fetched it: its messages decide
    await pauses.settle_caught_up(consumer, [])
    assert "g-moved" not in stalled_consumers()
