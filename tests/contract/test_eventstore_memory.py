"""The in-memory event store (the fake of unit tests) holds to the event store contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from shared.clock import FixedClock
from shared.errors import ConcurrencyError
from shared.store.memory import InMemoryEventStore, MemoryLog
from tests.contract.eventstore_contract import (
    META,
    RECORDED_AT,
    STREAM_TYPE,
    EventStoreContract,
    opened,
    stream,
)


class MemoryBackend:
    """Units of work over one shared log, as the fake unit of work uses them."""

    def __init__(self) -> None:
        self.log = MemoryLog()
        self.clock = FixedClock(RECORDED_AT)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[InMemoryEventStore]:
        store = InMemoryEventStore(self.log, self.clock)
        try:
            yield store
        except BaseException:
            store.rollback()
            raise
        store.commit()


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def backend(self) -> MemoryBackend:
        return MemoryBackend()

    async def test_two_open_units_of_work_on_one_stream_clash_at_commit(
        self, backend: MemoryBackend
    ) -> None:
        s = stream()
        first = InMemoryEventStore(backend.log, backend.clock)
        second = InMemoryEventStore(backend.log, backend.clock)
        (winner,) = await first.append(s, STREAM_TYPE, 0, [opened(s)], META)
        await second.append(s, STREAM_TYPE, 0, [opened(s)], META)

        first.commit()
        with pytest.raises(ConcurrencyError):
            second.commit()

        assert backend.log.streams[s] == [winner]
        assert [e.envelope for e in backend.log.events] == [winner]
