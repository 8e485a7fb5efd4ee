"""The PostgreSQL event store: the shared contract, racing writers, and the sequence-gap trap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from shared.clock import FixedClock, SystemClock
from shared.db import make_engine
from shared.errors import ConcurrencyError
from shared.events import registry
from shared.events.envelope import Envelope, Metadata
from shared.store import kept
from shared.store.cache import StreamCache
from shared.store.eventstore import Position, StoredEvent
from shared.store.postgres import PostgresEventStore
from shared.store.schema import SHARED_DDL
from shared.store.uow import SqlUnitOfWork
from tests.contract.eventstore_contract import (
    META,
    RECORDED_AT,
    STREAM_TYPE,
    EventStoreContract,
    append,
    ids,
    logged,
    opened,
    read_everything,
    stream,
    tail,
)

pytestmark = pytest.mark.integration

WRITERS = 10


class PostgresBackend:
    """Each unit of work is one connection and one transaction, as in the service."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.clock = FixedClock(RECORDED_AT)

    cache: StreamCache | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[PostgresEventStore]:
        async with self.engine.connect() as conn:
            async with conn.begin():
                store = PostgresEventStore(conn, registry, self.clock, self.cache)
                yield store
            store.committed()  # reached only when the block committed


class CachedPostgresBackend(PostgresBackend):
    """The same store with a process-level stream cache shared by every unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.cache = StreamCache()


class UnitOfWorkBackend(PostgresBackend):
    """The store as the services' unit of work binds it: the transaction begun on the asyncpg
    driver, loads and `append_then` sent to the driver, other statements through SQLAlchemy."""

    @asynccontextmanager
    async def session(self) -> AsyncIterator[PostgresEventStore]:
        async with SqlUnitOfWork(self.engine, registry, self.clock, self.cache) as uow:
            yield uow.events
            await uow.commit()


@pytest.fixture
async def backend(database_url: str) -> AsyncIterator[PostgresBackend]:
    """A fresh database with the shared schema, created the way migrations create it."""
    engine = create_async_engine(database_url, pool_size=WRITERS + 2, max_overflow=4)
    try:
        async with engine.begin() as conn:
            for statement in SHARED_DDL:
                await conn.execute(text(statement))
        yield PostgresBackend(engine)
    finally:
        await engine.dispose()


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def backend(self, backend: PostgresBackend) -> PostgresBackend:
        return backend

    async def test_the_events_table_records_the_commit_transaction_of_each_event(
        self, backend: PostgresBackend
    ) -> None:
        s = stream()
        async with backend.session() as store:
            await store.append(s, STREAM_TYPE, 0, [opened(s)], Metadata())
            await store.append(s, STREAM_TYPE, 1, [logged(s)], Metadata())

        async with backend.engine.connect() as conn:
            tx_ids = (
                await conn.execute(
                    text("SELECT DISTINCT tx_id::text FROM events WHERE stream_id = :s"), {"s": s}
                )
            ).scalars()
            assert len(list(tx_ids)) == 1


SIDE = "INSERT INTO side_effects (note) VALUES (:note)"


async def side_notes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT note FROM side_effects"))).scalars())


async def test_append_then_writes_the_events_and_its_statement_together(
    backend: PostgresBackend,
) -> None:
    async with backend.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE side_effects (note text)"))
    s = stream()
    async with backend.session() as store:
        written = await store.append_then(
            s, STREAM_TYPE, 0, [opened(s), logged(s)], Metadata(actor="a"), SIDE, {"note": "one"}
        )
    assert [e.version for e in written] == [1, 2]
    async with backend.session() as store:
        loaded = await store.load(s)
    assert [e.event_id for e in loaded] == [e.event_id for e in written]
    assert [e.event.event_name for e in loaded] == ["OpportunityOpened", "ActivityLogged"]
    assert loaded[1].metadata.actor == "a"
    assert await side_notes(backend.engine) == ["one"]


async def test_append_then_at_a_stale_version_raises_and_keeps_nothing(
    backend: PostgresBackend,
) -> None:
    async with backend.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE side_effects (note text)"))
    s = stream()
    await append(backend, s, 0, [opened(s)])
    with pytest.raises(ConcurrencyError):
        async with backend.session() as store:
            await store.append_then(
                s, STREAM_TYPE, 0, [logged(s)], Metadata(), SIDE, {"note": "stale"}
            )
    with pytest.raises(ConcurrencyError):  # a gap is refused as well
        async with backend.session() as store:
            await store.append_then(
                s, STREAM_TYPE, 5, [logged(s)], Metadata(), SIDE, {"note": "ahead"}
            )
    async with backend.session() as store:
        assert [e.version for e in await store.load(s)] == [1]
    assert await side_notes(backend.engine) == []


async def contend(
    backend: PostgresBackend, s: str, writer: int, barrier: asyncio.Barrier | None
) -> Envelope | ConcurrencyError:
    """One writer on its own connection: load the stream, then append at its version."""
    async with backend.session() as store:
        current = len(await store.load(s))
        if barrier is not None:
            await barrier.wait()
        try:
            (env,) = await store.append(
                s, STREAM_TYPE, current, [logged(s)], Metadata(actor=f"writer-{writer}")
            )
        except ConcurrencyError as clash:
            return clash
        return env


class TestCachedPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def backend(self, backend: PostgresBackend) -> CachedPostgresBackend:
        return CachedPostgresBackend(backend.engine)

    async def test_a_cached_stream_still_sees_what_another_process_appended(
        self, backend: CachedPostgresBackend
    ) -> None:
        s = stream()
        await append(backend, s, 0, [opened(s)])
        async with backend.session() as store:
            assert len(await store.load(s)) == 1  # now cached
        other = PostgresBackend(backend.engine)  # another replica: no shared cache
        await append(other, s, 1, [logged(s), logged(s)])
        async with backend.session() as store:
            loaded = await store.load(s)
        assert [e.version for e in loaded] == [1, 2, 3]

    async def test_a_rolled_back_append_never_reaches_the_cache(
        self, backend: CachedPostgresBackend
    ) -> None:
        s = stream()
        await append(backend, s, 0, [opened(s)])
        async with backend.session() as store:
            await store.load(s)  # cached from here on
        with pytest.raises(RuntimeError):
            await load_append_then_fail(backend, s)
        assert backend.cache is not None
        assert [e.version for e in backend.cache.get(s)] == [1]
        async with backend.session() as store:
            assert [e.version for e in await store.load(s)] == [1]


async def load_append_then_fail(backend: PostgresBackend, s: str) -> None:
    async with backend.session() as store:
        await store.load(s)
        await store.append(s, STREAM_TYPE, 1, [logged(s)], Metadata())
        raise RuntimeError("the command failed after appending")


class TestConcurrentWriters:
    async def test_of_ten_writers_at_the_same_version_exactly_one_wins(
        self, backend: PostgresBackend
    ) -> None:
        s = stream()
        await append(backend, s, 0, [opened(s)])
        barrier = asyncio.Barrier(WRITERS)

        results = await asyncio.gather(*(contend(backend, s, i, barrier) for i in range(WRITERS)))

        winners = [r for r in results if isinstance(r, Envelope)]
        losers = [r for r in results if isinstance(r, ConcurrencyError)]
        assert (len(winners), len(losers)) == (1, WRITERS - 1)
        async with backend.session() as store:
            loaded = await store.load(s)
        assert [e.version for e in loaded] == [1, 2]
        assert loaded[1] == winners[0]

    async def test_ten_retrying_writers_each_land_once_without_duplicate_versions(
        self, backend: PostgresBackend
    ) -> None:
        s = stream()
        barrier = asyncio.Barrier(WRITERS)
        losses: list[ConcurrencyError] = []

        async def writer(i: int) -> Envelope:
            first_try = True
            for _ in range(50):
                result = await contend(backend, s, i, barrier if first_try else None)
                first_try = False
                if isinstance(result, Envelope):
                    return result
                losses.append(result)
            raise AssertionError(f"writer {i} never landed")

        landed = await asyncio.gather(*(writer(i) for i in range(WRITERS)))

        async with backend.session() as store:
            loaded = await store.load(s)
        assert [e.version for e in loaded] == list(range(1, WRITERS + 1))
        assert sorted(ids(loaded)) == sorted(ids(landed))
        assert sorted(e.metadata.actor or "" for e in loaded) == sorted(
            f"writer-{i}" for i in range(WRITERS)
        )
        assert len(losses) >= WRITERS - 1
        async with backend.engine.connect() as conn:
            duplicates = await conn.scalar(
                text(
                    "SELECT count(*) FROM (SELECT version FROM events WHERE stream_id = :s"
                    " GROUP BY version HAVING count(*) > 1) d"
                ),
                {"s": s},
            )
        assert duplicates == 0


class TestSequenceGaps:
    """A transaction that took a lower global id but commits later must never be skipped."""

    async def test_a_reader_never_skips_an_event_committed_late_below_its_position(
        self, backend: PostgresBackend
    ) -> None:
        start = await tail(backend)
        a, b, c = stream(), stream(), stream()
        (env_c,) = await append(backend, c, 0, [opened(c)])

        async with backend.engine.connect() as conn_a:
            tx_a = await conn_a.begin()
            store_a = PostgresEventStore(conn_a, registry, backend.clock)
            (env_a,) = await store_a.append(a, STREAM_TYPE, 0, [opened(a)], Metadata())
            (env_b,) = await append(backend, b, 0, [opened(b)])  # commits first
            gid_a, gid_b = await global_ids(conn_a, env_a, env_b)
            assert gid_a < gid_b, "premise: A holds the lower id and commits last"

            during = await read_everything(backend, after=start)
            assert ids(during) == ids([env_c])
            follower_at = during[-1].position

            await tx_a.commit()

        resumed = await read_everything(backend, after=follower_at)
        assert ids(resumed) == ids([env_a, env_b])
        assert all(r.position > follower_at for r in resumed)

        from_scratch = await read_everything(backend, after=start)
        assert ids(from_scratch) == ids([env_c, env_a, env_b])

    async def test_a_paging_reader_with_limit_one_reads_every_event_once(
        self, backend: PostgresBackend
    ) -> None:
        start = await tail(backend)
        a, b = stream(), stream()

        async with backend.engine.connect() as conn_a:
            tx_a = await conn_a.begin()
            store_a = PostgresEventStore(conn_a, registry, backend.clock)
            (env_a,) = await store_a.append(a, STREAM_TYPE, 0, [opened(a)], Metadata())
            (env_b,) = await append(backend, b, 0, [opened(b)])
            seen = await follow(backend, start, limit=1)
            await tx_a.commit()

        seen += await follow(backend, seen[-1].position if seen else start, limit=1)

        assert ids(seen) == ids([env_a, env_b])

    async def test_a_rolled_back_lower_id_leaves_a_gap_that_does_not_block_readers(
        self, backend: PostgresBackend
    ) -> None:
        start = await tail(backend)
        a, b = stream(), stream()

        async with backend.engine.connect() as conn_a:
            tx_a = await conn_a.begin()
            store_a = PostgresEventStore(conn_a, registry, backend.clock)
            await store_a.append(a, STREAM_TYPE, 0, [opened(a)], Metadata())
            (env_b,) = await append(backend, b, 0, [opened(b)])
            await tx_a.rollback()

        assert ids(await read_everything(backend, after=start)) == ids([env_b])


async def global_ids(conn: AsyncConnection, *envelopes: Envelope) -> list[int]:
    rows = await conn.execute(
        text("SELECT event_id::text, global_id FROM events WHERE event_id::text = ANY(:ids)"),
        {"ids": [str(e.event_id) for e in envelopes]},
    )
    by_id = {r.event_id: r.global_id for r in rows}
    return [by_id[str(e.event_id)] for e in envelopes]


async def follow(backend: PostgresBackend, after: Position | None, limit: int) -> list[StoredEvent]:
    """Read page by page, each page in a transaction of its own, as a relay would."""
    out: list[StoredEvent] = []
    while True:
        async with backend.session() as store:
            page = await store.read_all(after=after, limit=limit)
        if not page:
            return out
        out += page
        after = page[-1].position


PROBE = "INSERT INTO uow_probe (k) VALUES (:probe_key)"


async def probes(backend: PostgresBackend) -> list[str]:
    async with backend.engine.connect() as conn:
        rows = await conn.execute(text("SELECT k FROM uow_probe ORDER BY k"))
        return [r.k for r in rows]


class TestUnitOfWorkEventStore(EventStoreContract):
    """The same contract through the unit of work, whose hot statements bypass SQLAlchemy."""

    @pytest.fixture
    async def backend(self, backend: PostgresBackend) -> UnitOfWorkBackend:
        async with backend.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS uow_probe (k text PRIMARY KEY)"))
        return UnitOfWorkBackend(backend.engine)

    async def test_driver_and_sqlalchemy_statements_commit_together(
        self, backend: UnitOfWorkBackend
    ) -> None:
        s = stream()
        async with SqlUnitOfWork(backend.engine, registry, backend.clock) as uow:
            await uow.events.append_then(
                s, STREAM_TYPE, 0, [opened(s)], META, PROBE, {"probe_key": "driver"}
            )
            await uow.events.append(s, STREAM_TYPE, 1, [logged(s)], META)  # through SQLAlchemy
            await uow.commit()
        async with backend.session() as store:
            assert [e.version for e in await store.load(s)] == [1, 2]
        assert await probes(backend) == ["driver"]

    @pytest.mark.parametrize("deferred", [False, True], ids=["begun", "deferred-then-begun"])
    async def test_a_unit_that_raises_keeps_neither(
        self, backend: UnitOfWorkBackend, deferred: bool
    ) -> None:
        s = stream()

        async def write_both_then_fail() -> None:
            unit = SqlUnitOfWork(backend.engine, registry, backend.clock, deferred=deferred)
            async with unit as uow:
                if deferred:
                    assert not uow.driver.is_in_transaction()
                    await uow.begin()
                    await uow.begin()  # once begun, begun
                assert uow.driver.is_in_transaction()
                await uow.events.append(s, STREAM_TYPE, 0, [opened(s)], META)
                await uow.events.append_then(
                    s, STREAM_TYPE, 1, [logged(s)], META, PROBE, {"probe_key": "lost"}
                )
                raise RuntimeError("the handler failed after both writes")

        with pytest.raises(RuntimeError):
            await write_both_then_fail()
        async with backend.session() as store:
            assert await store.load(s) == []
        assert await probes(backend) == []

    async def test_a_connection_goes_back_to_the_pool_outside_any_transaction(
        self, backend: UnitOfWorkBackend
    ) -> None:
        units = [SqlUnitOfWork(backend.engine, registry, backend.clock) for _ in range(3)]
        drivers = []
        for uow in units:  # three at once: three connections of the pool
            await uow.__aenter__()
            assert uow.driver.is_in_transaction()
            drivers.append(uow.driver)
        for uow in units:
            await uow.__aexit__(RuntimeError, RuntimeError("the handler failed"), None)
        assert len({id(d) for d in drivers}) == 3
        assert not any(d.is_in_transaction() for d in drivers)
        async with backend.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver in drivers and not driver.is_in_transaction()
            # SQLAlchemy's own transactions on the same pool still begin and roll back
            async with conn.begin() as tx:
                await conn.execute(text("INSERT INTO uow_probe (k) VALUES ('plain')"))
                assert driver.is_in_transaction()
                await tx.rollback()
        assert await probes(backend) == []


#: a `then` that writes only when the insert did, as a statement outside a transaction needs
PROBE_AFTER_INSERT = (
    "INSERT INTO uow_probe (k) SELECT CAST(:probe_key AS text) WHERE EXISTS (SELECT FROM ins)"
)
#: a guard over a row that another writer may change between a read and the append
GUARD = "(SELECT k FROM uow_probe WHERE k LIKE 'owner-%' FOR SHARE) = CAST(:owner AS text)"


async def guarded(
    uow: SqlUnitOfWork, s: str, version: int, then: str, probe_key: str, owner: str
) -> None:
    """Append the stream's next event under GUARD, with `then` writing `probe_key`."""
    event = opened(s) if version == 0 else logged(s)
    params = {"probe_key": probe_key, "owner": owner}
    await uow.events.append_then(s, STREAM_TYPE, version, [event], META, then, params, guard=GUARD)


class TestKeptConnectionsEventStore(EventStoreContract):
    """The same contract through units of work that hand their connections on
    (`shared.store.kept`), as the services' units do."""

    @pytest.fixture
    async def backend(self, backend: PostgresBackend) -> AsyncIterator[UnitOfWorkBackend]:
        kept.keep(backend.engine, 4)
        yield UnitOfWorkBackend(backend.engine)
        await kept.release(backend.engine)


class TestDeferredUnitOfWork:
    @pytest.fixture
    async def backend(self, backend: PostgresBackend) -> UnitOfWorkBackend:
        async with backend.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS uow_probe (k text PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO uow_probe (k) VALUES ('owner-east')"))
        return UnitOfWorkBackend(backend.engine)

    def deferred(self, backend: UnitOfWorkBackend) -> SqlUnitOfWork:
        return SqlUnitOfWork(backend.engine, registry, backend.clock, deferred=True)

    async def test_a_deferred_append_commits_on_its_own_without_a_transaction(
        self, backend: UnitOfWorkBackend
    ) -> None:
        s = stream()

        async def write_then_fail() -> None:
            async with self.deferred(backend) as uow:
                assert not uow.driver.is_in_transaction()
                await uow.events.append_then(
                    s, STREAM_TYPE, 0, [opened(s)], META, PROBE_AFTER_INSERT, {"probe_key": "kept"}
                )
                # already visible to others: the statement was its own transaction
                async with backend.session() as store:
                    assert [e.version for e in await store.load(s)] == [1]
                raise RuntimeError("the handler failed after its only write: it stays written")

        with pytest.raises(RuntimeError):
            await write_then_fail()
        async with backend.session() as store:
            assert [e.version for e in await store.load(s)] == [1]
        assert await probes(backend) == ["kept", "owner-east"]

    async def test_a_refused_deferred_append_leaves_neither_events_nor_its_then(
        self, backend: UnitOfWorkBackend
    ) -> None:
        s = stream()
        await append(backend, s, 0, [opened(s)])
        async with self.deferred(backend) as uow:
            with pytest.raises(ConcurrencyError):  # a stale version
                await uow.events.append_then(
                    s, STREAM_TYPE, 0, [logged(s)], META, PROBE_AFTER_INSERT, {"probe_key": "a"}
                )
            with pytest.raises(ConcurrencyError):  # the guard no longer holds
                await guarded(uow, s, 1, PROBE_AFTER_INSERT, "b", "owner-south")
            await uow.commit()
        async with backend.session() as store:
            assert [e.version for e in await store.load(s)] == [1]
        assert await probes(backend) == ["owner-east"]

    async def test_the_guard_holds_its_row_until_the_unit_s_transaction_ends(
        self, backend: UnitOfWorkBackend
    ) -> None:
        s = stream()
        async with self.deferred(backend) as uow:
            await uow.begin()
            await guarded(uow, s, 0, PROBE, "x", "owner-east")

            async def change_owner() -> None:
                async with backend.engine.begin() as conn:
                    await conn.execute(
                        text("UPDATE uow_probe SET k = 'owner-south' WHERE k = 'owner-east'")
                    )

            changing = asyncio.create_task(change_owner())
            await asyncio.sleep(0.3)
            assert not changing.done()  # waits for the unit's transaction
            await uow.commit()
        await asyncio.wait_for(changing, 10)
        assert await probes(backend) == ["owner-south", "x"]


class OnePool:
    """A service's engine (`make_engine`) whose pool holds one connection, and a second engine to end that connection's
    backend from another session, as a database restart ends them all."""

    def __init__(self, database_url: str, deferred: bool) -> None:
        self.engine = make_engine(database_url, pool_size=1, max_overflow=0)
        self.killer = make_engine(database_url, pool_size=1, max_overflow=0)
        self.deferred = deferred

    def unit(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, registry, SystemClock(), deferred=self.deferred)

    async def terminate(self, pid: int) -> None:
        async with self.killer.connect() as conn:
            await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        await asyncio.sleep(0.2)  # the connection's socket sees the end

    async def dispose(self) -> None:
        await self.engine.dispose()
        await self.killer.dispose()


@pytest.mark.parametrize("deferred", [False, True], ids=["begun", "deferred"])
class TestUnitOfWorkConnectionsLost:
    """A connection whose server end went away is never handed to a unit again."""

    @pytest.fixture
    async def pool(self, database_url: str, deferred: bool) -> AsyncIterator[OnePool]:
        pool = OnePool(database_url, deferred)
        yield pool
        await pool.dispose()

    async def test_one_lost_in_use_fails_its_unit_only(self, pool: OnePool) -> None:
        async def lose_the_connection_in_use() -> None:
            async with pool.unit() as u:
                await pool.terminate(await u.driver.fetchval("SELECT pg_backend_pid()"))
                await u.driver.fetchval("SELECT 1")

        with pytest.raises(Exception, match=r"closed|terminat"):
            await lose_the_connection_in_use()
        for _ in range(3):  # the pool's only connection was replaced, not handed out again
            async with pool.unit() as u:
                assert await u.driver.fetchval("SELECT 1") == 1

    async def test_one_lost_while_pooled_is_replaced_at_checkout(self, pool: OnePool) -> None:
        async with pool.unit() as u:
            pid = await u.driver.fetchval("SELECT pg_backend_pid()")
        await pool.terminate(pid)
        async with pool.unit() as u:
            assert await u.driver.fetchval("SELECT pg_backend_pid()") != pid
