"""The event store contract: one suite that the in-memory fake and PostgreSQL must both pass.

A backend opens units of work: `session()` yields a store bound to a fresh transaction that
commits when the block ends and rolls back when it raises. Subclasses provide the `backend`
fixture; every test uses its own stream ids, so a shared database never makes tests clash.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import pytest

from shared.contracts import pipeline as ev
from shared.errors import ConcurrencyError
from shared.events.envelope import Envelope, Metadata, NewEvent
from shared.store.eventstore import EventStore, Position, StoredEvent

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
#: what the backends' clocks read: recorded_at of every appended event
RECORDED_AT = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
STREAM_TYPE = "opportunity"
META = Metadata(correlation_id="corr-1", causation_id="cmd-1", actor="rep-east-1", region="east")


class Backend(Protocol):
    def session(self) -> AbstractAsyncContextManager[EventStore]: ...


class RollbackError(Exception):
    """Raised inside a session to make it roll back."""


def stream() -> str:
    return f"opp-{uuid.uuid4().hex[:12]}"


def opened(stream_id: str, at: datetime = T0) -> NewEvent:
    return NewEvent(
        ev.OpportunityOpened(
            opportunity_id=stream_id,
            account_id="acc-huadong-steel",
            occurred_at=at,
            title="Predictive maintenance · 预测性维护",
            owner_id="rep-east-1",
            region="east",
            team="east-a",
            amount=Decimal("1350000.50"),
            currency="CNY",
            expected_close_date=(at + timedelta(days=180)).date(),
            stage="lead",
            playbook_version=1,
        ),
        key="acc-huadong-steel",
    )


def logged(stream_id: str, at: datetime = T0, kind: str = "call") -> NewEvent:
    return NewEvent(
        ev.ActivityLogged(
            opportunity_id=stream_id,
            account_id="acc-huadong-steel",
            occurred_at=at,
            activity_id=f"act-{uuid.uuid4().hex[:8]}",
            kind=kind,
            customer_facing=True,
            stage="lead",
            actor_id="rep-east-1",
            actor_region="east",
            contacts=["王经理"],
            next_step="send the checklist",
        )
    )


def ids(items: Sequence[Envelope | StoredEvent]) -> list[uuid.UUID]:
    return [i.event_id if isinstance(i, Envelope) else i.envelope.event_id for i in items]


async def append(
    backend: Backend,
    stream_id: str,
    expected: int,
    events: Sequence[NewEvent],
    metadata: Metadata = META,
) -> list[Envelope]:
    """Append in a unit of work of its own, committed."""
    async with backend.session() as store:
        return await store.append(stream_id, STREAM_TYPE, expected, events, metadata)


async def read_everything(backend: Backend, after: Position | None = None) -> list[StoredEvent]:
    async with backend.session() as store:
        out: list[StoredEvent] = []
        while page := await store.read_all(after=after, limit=100):
            out += page
            after = page[-1].position
        return out


async def tail(backend: Backend) -> Position | None:
    """The position of the last committed event, so a test reads only what it appends."""
    everything = await read_everything(backend)
    return everything[-1].position if everything else None


class EventStoreContract:
    """Subclass, provide a `backend` fixture, and the store is held to this contract."""

    @pytest.fixture
    def backend(self) -> Backend:
        raise NotImplementedError("a subclass provides the backend")

    # --- append and load ---

    async def test_appending_to_a_new_stream_at_version_zero_starts_at_one(
        self, backend: Backend
    ) -> None:
        s = stream()

        (env,) = await append(backend, s, 0, [opened(s)])

        assert (env.stream_id, env.stream_type, env.version) == (s, STREAM_TYPE, 1)
        assert (env.key, env.metadata, env.recorded_at) == ("acc-huadong-steel", META, RECORDED_AT)

    async def test_load_returns_the_appended_envelopes_in_version_order(
        self, backend: Backend
    ) -> None:
        s = stream()
        first = await append(backend, s, 0, [opened(s)])
        second = await append(backend, s, 1, [logged(s, T0 + timedelta(hours=1))])
        third = await append(backend, s, 2, [logged(s, T0 + timedelta(hours=2), "visit")])

        async with backend.session() as store:
            loaded = await store.load(s)

        assert loaded == first + second + third
        assert [e.version for e in loaded] == [1, 2, 3]

    async def test_load_after_a_version_returns_only_the_later_events(
        self, backend: Backend
    ) -> None:
        s = stream()
        await append(backend, s, 0, [opened(s)])
        tail = await append(
            backend, s, 1, [logged(s, T0 + timedelta(hours=1)), logged(s, T0, "visit")]
        )

        async with backend.session() as store:
            after_one = await store.load(s, after=1)
            after_all = await store.load(s, after=3)

        assert after_one == tail
        assert after_all == []

    async def test_load_keeps_ids_payloads_and_metadata_exactly(self, backend: Backend) -> None:
        s = stream()
        meta = Metadata(correlation_id="c-ü", causation_id=None, actor="sup-9", region=None)
        appended = await append(backend, s, 0, [opened(s), logged(s)], meta)

        async with backend.session() as store:
            loaded = await store.load(s)

        assert ids(loaded) == ids(appended)
        assert [e.event.payload() for e in loaded] == [e.event.payload() for e in appended]
        assert [e.event for e in loaded] == [e.event for e in appended]
        assert {e.metadata for e in loaded} == {meta}
        assert [e.key for e in loaded] == ["acc-huadong-steel", s]

    async def test_an_unknown_stream_loads_as_empty(self, backend: Backend) -> None:
        async with backend.session() as store:
            assert await store.load(stream()) == []

    async def test_several_events_in_one_append_get_consecutive_versions(
        self, backend: Backend
    ) -> None:
        s = stream()
        await append(backend, s, 0, [opened(s)])

        batch = await append(backend, s, 1, [logged(s), logged(s), logged(s)])

        assert [e.version for e in batch] == [2, 3, 4]
        assert len(set(ids(batch))) == 3
        async with backend.session() as store:
            assert [e.version for e in await store.load(s)] == [1, 2, 3, 4]

    async def test_streams_are_versioned_independently(self, backend: Backend) -> None:
        a, b = stream(), stream()

        await append(backend, a, 0, [opened(a), logged(a)])
        (first_of_b,) = await append(backend, b, 0, [opened(b)])

        assert first_of_b.version == 1

    async def test_a_unit_of_work_sees_its_own_appends_before_commit(
        self, backend: Backend
    ) -> None:
        s = stream()
        async with backend.session() as store:
            await store.append(s, STREAM_TYPE, 0, [opened(s)], META)
            await store.append(s, STREAM_TYPE, 1, [logged(s)], META)

            assert [e.version for e in await store.load(s)] == [1, 2]

    # --- optimistic concurrency ---

    async def test_a_stale_expected_version_is_refused_and_writes_nothing(
        self, backend: Backend
    ) -> None:
        s = stream()
        original = await append(backend, s, 0, [opened(s), logged(s)])

        async with backend.session() as store:
            with pytest.raises(ConcurrencyError) as clash:
                await store.append(s, STREAM_TYPE, 1, [logged(s, kind="visit")], META)
            assert clash.value.status == 409
            assert clash.value.extensions == {"stream_id": s}

        async with backend.session() as store:
            assert await store.load(s) == original

    async def test_appending_at_zero_to_an_existing_stream_is_refused(
        self, backend: Backend
    ) -> None:
        s = stream()
        original = await append(backend, s, 0, [opened(s)])

        with pytest.raises(ConcurrencyError):
            await append(backend, s, 0, [opened(s)])

        async with backend.session() as store:
            assert await store.load(s) == original

    async def test_a_clash_on_the_last_event_of_a_batch_writes_none_of_it(
        self, backend: Backend
    ) -> None:
        s = stream()
        await append(backend, s, 0, [opened(s), logged(s), logged(s)])

        with pytest.raises(ConcurrencyError):
            await append(backend, s, 2, [logged(s), logged(s)])

        async with backend.session() as store:
            assert [e.version for e in await store.load(s)] == [1, 2, 3]

    async def test_a_unit_of_work_goes_on_after_a_clash(self, backend: Backend) -> None:
        s, other = stream(), stream()
        await append(backend, s, 0, [opened(s)])

        async with backend.session() as store:
            with pytest.raises(ConcurrencyError):
                await store.append(s, STREAM_TYPE, 0, [opened(s)], META)
            await store.append(other, STREAM_TYPE, 0, [opened(other)], META)

        async with backend.session() as store:
            assert len(await store.load(other)) == 1
            assert len(await store.load(s)) == 1

    async def test_an_expected_version_ahead_of_the_stream_is_refused(
        self, backend: Backend
    ) -> None:
        s = stream()
        await append(backend, s, 0, [opened(s)])

        with pytest.raises(ConcurrencyError):
            await append(backend, s, 3, [logged(s)])

        async with backend.session() as store:
            assert [e.version for e in await store.load(s)] == [1]

    # --- read_all ---

    async def test_read_all_returns_every_stream_in_commit_order(self, backend: Backend) -> None:
        start = await tail(backend)
        a, b = stream(), stream()
        first = await append(backend, a, 0, [opened(a)])
        second = await append(backend, b, 0, [opened(b), logged(b)])
        third = await append(backend, a, 1, [logged(a)])

        read = await read_everything(backend, after=start)

        assert ids(read) == ids(first + second + third)
        assert [r.envelope for r in read] == first + second + third
        positions = [r.position for r in read]
        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)

    async def test_read_all_after_a_position_resumes_strictly_after_it(
        self, backend: Backend
    ) -> None:
        start = await tail(backend)
        s = stream()
        appended = await append(backend, s, 0, [opened(s), logged(s), logged(s), logged(s)])
        read = await read_everything(backend, after=start)

        resumed = await read_everything(backend, after=read[1].position)

        assert ids(resumed) == ids(appended[2:])
        assert all(r.position > read[1].position for r in resumed)
        assert await read_everything(backend, after=read[-1].position) == []

    async def test_read_all_returns_at_most_limit_events(self, backend: Backend) -> None:
        start = await tail(backend)
        s = stream()
        appended = await append(backend, s, 0, [opened(s), logged(s), logged(s)])

        async with backend.session() as store:
            page = await store.read_all(after=start, limit=2)
            rest = await store.read_all(after=page[-1].position, limit=2)

        assert ids(page) == ids(appended[:2])
        assert ids(rest) == ids(appended[2:])

    async def test_read_all_until_a_business_time_leaves_out_later_events(
        self, backend: Backend
    ) -> None:
        start = await tail(backend)
        s = stream()
        appended = await append(
            backend,
            s,
            0,
            [
                opened(s, T0),
                logged(s, T0 + timedelta(days=1)),
                logged(s, T0 + timedelta(days=2)),
            ],
        )
        # imported history: committed later, but it happened before the cut-off
        (late_import,) = await append(backend, s, 3, [logged(s, T0 + timedelta(hours=12))])

        async with backend.session() as store:
            as_of = await store.read_all(after=start, occurred_until=T0 + timedelta(days=1))

        assert ids(as_of) == ids([*appended[:2], late_import])

    # --- transactions ---

    async def test_an_uncommitted_append_is_invisible_to_other_units_of_work(
        self, backend: Backend
    ) -> None:
        start = await tail(backend)
        s = stream()
        async with backend.session() as writer:
            await writer.append(s, STREAM_TYPE, 0, [opened(s)], META)

            async with backend.session() as reader:
                assert await reader.load(s) == []
                assert await reader.read_all(after=start) == []

        async with backend.session() as reader:
            assert len(await reader.load(s)) == 1

    async def test_a_rolled_back_append_leaves_no_trace(self, backend: Backend) -> None:
        start = await tail(backend)
        s = stream()

        with pytest.raises(RollbackError):
            await append_then_fail(backend, s)

        async with backend.session() as store:
            assert await store.load(s) == []
        assert await read_everything(backend, after=start) == []
        (env,) = await append(backend, s, 0, [opened(s)])
        assert env.version == 1


async def append_then_fail(backend: Backend, stream_id: str) -> None:
    async with backend.session() as store:
        await store.append(stream_id, STREAM_TYPE, 0, [opened(stream_id), logged(stream_id)], META)
        raise RollbackError
