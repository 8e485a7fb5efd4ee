"""One projection rebuilt from its topics into fresh tables, then swapped in while the service runs.

1. Twins of the live tables are made in a schema of their own; the handlers run on a connection
   whose search_path puts that schema first, so their unqualified table names reach the twins
   while whatever else they read (reference tables) comes from the live schema.
2. Every partition is read from its beginning to the end offsets seen at the start, by worker
   processes sharing the partitions, a transaction per fetched batch, decoding the next batch
   while the database applies this one. Then the plain indexes are built.
3. Catch-up rounds follow the topics without locks until little is left.
4. The swap, in one transaction: lock the service's inbox (so no consumer can be half-way
   between its claim and its projection write: the same order the consumers take), lock the
   live tables, read to the topics' current end, hand the replayed events the live consumers
   have not passed yet to their inbox (so they skip them after the swap), move the live tables
   to an archive schema and the twins into their place. Events after that end are the live
   consumers', applied to the new tables once the locks go: none lost, none applied twice.

With `as_of`, only events whose business time is before it are applied, and the schema is kept
beside the live one (never swapped in: it would lose every later event).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.events.registry import EventRegistry
from shared.messaging.kafka import stop_quietly
from shared.replay import tables as ddl
from shared.replay.applier import Applier, Counts, ReplayError
from shared.replay.feed import apply_until, fewer_collections
from shared.replay.progress import ReplayProgress, Silent
from shared.replay.reader import BATCH_RECORDS, Offsets, TopicReader, committed_offsets
from shared.replay.spec import Projection, schema_name
from shared.replay.workers import Job, run_jobs, share
from shared.settings import Settings

log = logging.getLogger(__name__)
#: lock not available, deadlock detected: the swap waits and tries again
RETRY_SQLSTATES = ("55P03", "40P01")


@dataclass(frozen=True)
class ReplayOptions:
    as_of: datetime | None = None
    #: after a swap, drop the archives earlier replays of the projection left
    drop_previous: bool = False
    #: how long the swap waits for each lock before it lets go and tries again
    lock_timeout_s: float = 5.0
    swap_attempts: int = 5
    #: unlocked catch-up rounds before the swap, and the backlog small enough to swap with
    catch_up_rounds: int = 5
    catch_up_left: int = 2000
    #: records per fetched batch at most (one transaction each)
    batch_records: int = BATCH_RECORDS
    #: processes sharing the partitions while the topics are read from their beginning
    workers: int = 2


@dataclass
class ReplayResult:
    service: str
    projection: str
    #: where the rebuilt tables are: the live schema after a swap, else the kept as-of schema
    schema: str
    archive: str | None
    as_of: datetime | None
    counts: Counts
    seconds: float
    rows: dict[str, int]
    #: the live tables' row counts when they were replaced
    rows_before: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    missing_topics: list[str] = field(default_factory=list)
    #: how long the swap held the inbox and the live tables (the live consumers waited)
    locked_s: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.counts.read / self.seconds if self.seconds > 0 else 0.0


class Rebuild:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        registry: EventRegistry,
        projection: Projection,
        options: ReplayOptions | None = None,
        progress: ReplayProgress | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._registry = registry
        self._projection = projection
        self._options = options or ReplayOptions()
        self._progress = progress or Silent()
        self._name = f"{settings.service}_{projection.name}"
        self._bootstrap = settings.kafka_bootstrap_servers or ""
        stamp = datetime.now(UTC).strftime("%Y%m%dt%H%M%S%f")
        self._build = schema_name("asof" if self._options.as_of else "replay", self._name, stamp)
        self._archive = schema_name("archive", self._name, stamp)
        self._reader = TopicReader(
            settings.kafka_bootstrap_servers or "",
            projection.topics,
            settings.fetch_max_wait_ms,
            self._options.batch_records,
        )
        self._applier = Applier(
            projection, registry, self._build, settings.topic_prefix, self._options.as_of
        )
        self._announced = 0
        self._locked_s = 0.0

    async def run(self) -> ReplayResult:
        with fewer_collections():
            return await self._run()

    async def _run(self) -> ReplayResult:
        started = time.perf_counter()
        tables = self._projection.tables
        async with self._engine.connect() as conn:
            live = await ddl.live_schema(conn)
            await ddl.check_tables(conn, live, tables)
            indexes = await ddl.create_twins(conn, live, self._build, tables)
            await conn.commit()
            try:
                await conn.execute(text(f"SET search_path TO {ddl.q(self._build)}, {ddl.q(live)}"))
                await conn.commit()
                await self._reader.start()
                ends = await self._reader.end_offsets()
                self._announce(ends, first=True)
                await self._read_from_beginning(conn, live, ends)
                self._progress.phase("indexing")
                await ddl.build_indexes(self._engine, live, self._build, indexes)
                await conn.commit()
                if self._options.as_of is not None:
                    return await self._keep(conn, started)
                await self._catch_up(conn)
                await self._swap(conn, live)
                rows_before = await ddl.row_counts(conn, self._archive, tables)
                dropped = await self._drop_previous(conn) if self._options.drop_previous else []
                rows = await ddl.row_counts(conn, live, tables)
                await conn.commit()
            except BaseException:
                await self._abandon(conn)
                raise
            finally:
                self._progress.end()
                await self._reader.stop()
                with contextlib.suppress(Exception):
                    await conn.execute(text("RESET search_path"))
                    await conn.commit()
        return ReplayResult(
            self._settings.service,
            self._projection.name,
            live,
            self._archive,
            None,
            self._applier.counts,
            time.perf_counter() - started,
            rows,
            rows_before,
            dropped,
            self._reader.missing,
            self._locked_s,
        )

    def _announce(self, ends: Offsets, first: bool = False) -> None:
        """Tell the progress bar how many events the topics now hold up to `ends`."""
        total = (
            sum(ends.values())
            - sum(self._reader.positions.get(tp, 0) for tp in ends)
            + self._applier.counts.read
        )
        if first:
            self._progress.begin(f"{self._settings.service}/{self._projection.name}", total)
        else:
            self._progress.grow(max(0, total - self._announced))
        self._announced = max(self._announced, total)

    async def _read(self, conn: AsyncConnection, ends: Offsets, own_transactions: bool) -> None:
        await apply_until(
            conn, self._reader, self._applier, ends, own_transactions, self._progress.advance
        )

    async def _read_from_beginning(self, conn: AsyncConnection, live: str, ends: Offsets) -> None:
        """The bulk of the replay, in worker processes when there are several partitions."""
        shares = share(self._reader.positions, ends, self._options.workers)
        if len(shares) < 2:
            await self._read(conn, ends, own_transactions=True)
            return
        jobs = [
            Job(
                self._settings,
                self._registry,
                self._projection,
                self._build,
                live,
                starts,
                share_ends,
                self._options.as_of,
                self._options.batch_records,
            )
            for starts, share_ends in shares
        ]
        self._applier.counts.add(await run_jobs(jobs, self._progress.advance))
        self._reader.rewind({**self._reader.positions, **ends})

    async def _catch_up(self, conn: AsyncConnection) -> None:
        self._progress.phase("catching up")
        for _ in range(self._options.catch_up_rounds):
            ends = await self._reader.end_offsets()
            self._announce(ends)
            if self._reader.remaining(ends) <= self._options.catch_up_left:
                return
            await self._read(conn, ends, own_transactions=True)

    async def _swap(self, conn: AsyncConnection, live: str) -> None:
        tables = self._projection.tables
        timeout_ms = int(self._options.lock_timeout_s * 1000)
        for attempt in range(1, self._options.swap_attempts + 1):
            self._progress.phase("swapping" if attempt == 1 else f"swapping (attempt {attempt})")
            positions = dict(self._reader.positions)
            counts = dataclasses.replace(
                self._applier.counts, failures=list(self._applier.counts.failures)
            )
            # connected before the locks, so that they are held as briefly as can be
            prober = await self._reader.new_prober()
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap, request_timeout_ms=10_000
            )
            try:
                await admin.start()
                async with conn.begin():
                    began = time.perf_counter()
                    await conn.execute(text(f"SET LOCAL lock_timeout = {timeout_ms}"))
                    await conn.execute(
                        text(f"LOCK TABLE {ddl.q(live, 'inbox')} IN SHARE ROW EXCLUSIVE MODE")
                    )
                    locked = ", ".join(ddl.q(live, t) for t in tables)
                    await conn.execute(text(f"LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE"))
                    ends = await self._reader.end_offsets(prober)
                    self._announce(ends)
                    await self._read(conn, ends, own_transactions=False)
                    await self._refuse_unparked_failures(conn, live)
                    await ddl.hand_over(conn, live, self._build, await self._committed(admin))
                    await ddl.swap(conn, live, self._build, self._archive, tables)
                self._locked_s = time.perf_counter() - began
                return
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) not in RETRY_SQLSTATES:
                    raise
                log.warning("swap attempt %d could not take its locks: %s", attempt, exc.orig)
                self._progress.grow(sum(self._reader.positions.values()) - sum(positions.values()))
                self._reader.rewind(positions)
                self._applier.counts = counts
                await asyncio.sleep(min(5.0, 0.5 * attempt))
            finally:
                await stop_quietly(prober)
                await admin.close()
        raise ReplayError(
            f"could not lock {', '.join(tables)} within {self._options.swap_attempts} attempts of "
            f"{self._options.lock_timeout_s:g} s (long transactions on them?); nothing was swapped"
        )

    async def _committed(self, admin: AIOKafkaAdminClient) -> list[tuple[str, int, int, int]]:
        """(consumer, topic, partition, committed offset) of each live group: whatever it read
        below that offset it applied (its inbox has it) or parked; the rest is ours to hand
        over. Read with the locks held, so the groups cannot go further meanwhile."""
        found = []
        number = self._projection.topic_numbers
        for group in self._projection.groups:
            consumer = self._settings.topic_prefix + group.group
            tps = [tp for tp in self._reader.positions if tp.topic in group.topics]
            committed = await committed_offsets(admin, consumer, tps)
            found += [
                (consumer, number[tp.topic], tp.partition, committed.get(tp, 0)) for tp in tps
            ]
        return found

    async def _refuse_unparked_failures(self, conn: AsyncConnection, live: str) -> None:
        """An event the replay could not apply is acceptable only if the live consumer could
        not either (it is parked in `dead_letters`); else the rebuilt tables would lack it."""
        for consumer, ids in self._applier.counts.failed_ids().items():
            parked = await conn.execute(
                text(
                    f"SELECT event_id FROM {ddl.q(live, 'dead_letters')}"  # noqa: S608
                    " WHERE consumer = :c AND event_id = ANY(:ids)"
                ),
                {"c": consumer, "ids": ids},
            )
            missing = sorted(set(ids) - {r[0] for r in parked})
            if missing:
                first = next(f for f in self._applier.counts.failures if f[1] == missing[0])
                raise ReplayError(
                    f"{len(missing)} event(s) of {consumer} failed in the replay but were applied "
                    f"live, e.g. {first[1]}: {first[2]}; nothing was swapped"
                )

    async def _keep(self, conn: AsyncConnection, started: float) -> ReplayResult:
        await conn.execute(text(f"DROP TABLE {ddl.q(self._build, ddl.APPLIED)}"))
        rows = await ddl.row_counts(conn, self._build, self._projection.tables)
        await conn.commit()
        return ReplayResult(
            self._settings.service,
            self._projection.name,
            self._build,
            None,
            self._options.as_of,
            self._applier.counts,
            time.perf_counter() - started,
            rows,
            missing_topics=self._reader.missing,
        )

    async def _drop_previous(self, conn: AsyncConnection) -> list[str]:
        found = await ddl.leftover_schemas(conn, self._name)
        old = [name for name, kind in found if kind == "archive" and name != self._archive]
        for name in old:
            await ddl.drop_schema(conn, name)
        return old

    async def _abandon(self, conn: AsyncConnection) -> None:
        """Nothing was swapped: the half-built schema goes (best effort; `--clean` finds it)."""
        try:
            await conn.rollback()
            await ddl.drop_schema(conn, self._build)
            await conn.commit()
        except Exception as exc:
            log.warning("could not drop %s: %s", self._build, exc)
