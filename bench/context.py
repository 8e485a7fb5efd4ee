"""What sections share in one run: infrastructure, services started on demand, helpers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench import same_work_app, seed
from bench.config import BenchConfig
from bench.cpu import CpuMeter, standard_groups
from bench.infra import Infrastructure, asyncpg_dsn, drop_database
from bench.procs import Profiler, ServiceProcess
from shared.auth import issue_token
from shared.runtime.embedded import create_database, free_port, with_database
from shared.settings import DEV_JWT_SECRET

OUTBOX_DRAIN_TIMEOUT_S = 60.0
#: the consumer groups of collab_svc (services/collab_svc/entrypoints/consumers/runners.py)
COLLAB_GROUPS = ("collab-timeline", "collab-conflicts")
COLLAB_TOPICS = ("pipeline", "collab")
#: services run as `sightline up` runs them: an api process and a worker process apart
SPLIT = "split"
#: accounts the deals are spread over (deals are keyed by account on Kafka)
ACCOUNTS = 50


@dataclass
class Section:
    """What a section hands back: flat metrics for latest.json and rows for the table."""

    metrics: dict[str, Any] = field(default_factory=dict)
    rows: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class BenchContext:
    def __init__(
        self,
        config: BenchConfig,
        infra: Infrastructure,
        log_dir: Path,
        stack: ExitStack,
        log: Callable[[str], None] = print,
    ) -> None:
        self.config = config
        self.infra = infra
        self.log_dir = log_dir
        self.log = log
        self._stack = stack
        self._services: dict[str, ServiceProcess] = {}
        self._opportunities: list[str] | None = None
        self._collab_url: str | None = None
        self.token = issue_token(
            DEV_JWT_SECRET, sub="bench-rep", role="rep", region="east", team="east-1"
        )
        self.admin_token = issue_token(
            DEV_JWT_SECRET, sub="bench-admin", role="admin", region="east", team="east-1"
        )

    # -- processes -----------------------------------------------------------------------

    async def start_service(
        self, name: str, argv: list[str], env: dict[str, str]
    ) -> ServiceProcess:
        """Start `argv` once per name on a free port (`{port}` in env values) and wait for it."""
        if name in self._services:
            return self._services[name]
        port = free_port()
        env = {key: value.format(port=port) for key, value in env.items()}
        proc = ServiceProcess(name, argv, env, port, self.log_dir / f"{name}.log")
        self._stack.callback(proc.stop)
        self._services[name] = proc
        proc.start()
        took = await proc.wait_ready()
        self.log(f"{name} ready on port {port} after {took:.1f}s (pid {proc.pid})")
        return proc

    async def serve(
        self, service: str, name: str, database_url: str, mode: str | None = None
    ) -> ServiceProcess:
        """`sightline serve SERVICE` on free ports, as `sightline up` runs it: `split` (the
        default, `--roles` overrides) starts an api process `name` and a worker process
        `<name>-worker` (relay, consumers, schedulers); `api`, `worker` or `all` start that
        one process. Returns the api (or the one) process; `worker(name)` gives the worker."""
        mode = mode or self.config.roles
        if name in self._services:
            return self._services[name]
        await seed.create_topics(self.infra.bootstrap, self.infra.topic_prefix)
        env = {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.bootstrap,
            "SIGHTLINE_PORT": "{port}",
            "SIGHTLINE_LOG_LEVEL": "WARNING",
            "SIGHTLINE_TOPIC_PREFIX": self.infra.topic_prefix,
            "SIGHTLINE_ENVIRONMENT": "local",
            "JWT_SECRET": DEV_JWT_SECRET,
        }
        argv = [sys.executable, "-m", "shared.cli", "serve", service, "--role"]
        if mode == SPLIT:
            await self.start_service(f"{name}-worker", [*argv, "worker"], env)
            mode = "api"
        return await self.start_service(name, [*argv, mode], env)

    def worker(self, name: str) -> ServiceProcess | None:
        """The worker process started beside the api process `name`, if any."""
        return self._services.get(f"{name}-worker")

    async def pipeline(
        self, name: str = "pipeline", database_url: str | None = None, mode: str | None = None
    ) -> ServiceProcess:
        """The pipeline's api process (its worker beside it unless `mode` says otherwise)."""
        return await self.serve("pipeline", name, database_url or self.infra.database_url, mode)

    async def collab(self) -> ServiceProcess:
        """collab_svc's api process, its worker beside it: its own database (migrated at
        startup), the same broker and topic prefix as the pipeline."""
        if "collab" in self._services:
            return self._services["collab"]
        return await self.serve("collab", "collab", await self._collab_database())

    @property
    def collab_dsn(self) -> str:
        """asyncpg DSN of collab_svc's database (after `collab()`)."""
        assert self._collab_url is not None, "collab is not started"
        return asyncpg_dsn(self._collab_url)

    async def _collab_database(self) -> str:
        self._collab_url = await self.database("collab")
        return self._collab_url

    async def database(self, suffix: str) -> str:
        """`<run database>_<suffix>` on the same server, dropped at the end like the run's one."""
        base = self.infra.database_url
        name = f"{make_url(base).database}_{suffix}"
        url = await create_database(base, name)
        if self.infra.postgres == "embedded":
            url = with_database(base, name)
        elif not os.environ.get("BENCH_KEEP_DATABASE"):
            # registered before a service using it starts, so it runs after the service stopped
            self._stack.callback(drop_database, base, name)
        return url

    async def collab_caught_up(self, stall_s: float = 30.0) -> tuple[float, int]:
        """Wait until collab's consumer groups have committed up to the end of their topics.

        Returns the seconds waited and the backlog found first (events summed over both
        groups). Each group commits after every fetched batch, so lag 0 on every partition
        means every event produced so far is in collab's read models. Gives up only when the
        lag has not shrunk for `stall_s`, however long a big backlog takes.
        """
        topics = [self.infra.topic(d) for d in COLLAB_TOPICS]
        started = progress = time.monotonic()
        backlog = best = await seed.consumer_lag(self.infra.bootstrap, COLLAB_GROUPS, topics)
        while best:
            await asyncio.sleep(0.25)
            lag = await seed.consumer_lag(self.infra.bootstrap, COLLAB_GROUPS, topics)
            if lag < best:
                best, progress = lag, time.monotonic()
            elif time.monotonic() - progress > stall_s:
                raise RuntimeError(f"collab's consumers stuck {lag} events behind for {stall_s:g}s")
        took = time.monotonic() - started
        if backlog:
            self.log(f"collab's consumers caught up with {backlog} events in {took:.1f}s")
        return took, backlog

    async def crud_app(self, name: str = "crud", dsn: str | None = None) -> ServiceProcess:
        env = {"CRUD_DATABASE_URL": dsn or self.infra.asyncpg_dsn, "CRUD_PORT": "{port}"}
        return await self.start_service(name, [sys.executable, "-m", "bench.crud_app"], env)

    async def same_work_app(
        self, name: str = "same-work", dsn: str | None = None
    ) -> ServiceProcess:
        """The conventional same-work baseline, its deals seeded like the pipeline's."""
        if name not in self._services:
            ids = await self.opportunities()
            rows = [
                (oid, f"bench-account-{i % ACCOUNTS}", "bench-rep", seed.REGION)
                for i, oid in enumerate(ids)
            ]
            await same_work_app.seed(self.infra.asyncpg_dsn, rows)
        env = {
            "SAME_WORK_DATABASE_URL": dsn or self.infra.asyncpg_dsn,
            "SAME_WORK_PORT": "{port}",
            "SAME_WORK_JWT_SECRET": DEV_JWT_SECRET,
        }
        argv = [sys.executable, "-m", "bench.same_work_app"]
        return await self.start_service(name, argv, env)

    # -- data ----------------------------------------------------------------------------

    async def opportunities(self) -> list[str]:
        """`config.opportunities` deals opened through the API once (accounts registered first)."""
        if self._opportunities is not None:
            return self._opportunities
        accounts = [f"bench-account-{i}" for i in range(ACCOUNTS)]
        service = await self.pipeline()  # creates the topics first
        await seed.register_accounts(self.infra.bootstrap, self.infra.topic("collab"), accounts)
        started = time.monotonic()
        ids = await seed.open_opportunities(
            service.base_url,
            self.token,
            self.config.opportunities,
            accounts,
            self.config.concurrency,
        )
        self.log(f"opened {len(ids)} opportunities in {time.monotonic() - started:.1f}s")
        self._opportunities = ids
        return ids

    def cpu_meter(self, service_pid: int | None, **services: int) -> CpuMeter:
        """CPU of the service (or of several, by name), PostgreSQL, broker and load generator.

        Every running worker process not named is measured too, as `<name>_worker`
        (`pipeline_worker_cores`): its relay and consumers work for the measured commands.
        """
        named = {service_pid, *services.values()}
        for name, proc in self._services.items():
            if name.endswith("-worker") and proc.running and proc.pid not in named:
                services = {**services, name.replace("-", "_"): proc.pid}
        infra = self.infra
        groups = standard_groups(service_pid, infra.postgres_pid, infra.broker_pid, services)
        return CpuMeter(groups)

    # -- quiet starts ----------------------------------------------------------------------

    async def quiesce(self) -> None:
        """Same starting line for every measurement: relay caught up, dirty pages flushed."""
        conn = await asyncpg.connect(self.infra.asyncpg_dsn)
        try:
            deadline = time.monotonic() + OUTBOX_DRAIN_TIMEOUT_S
            while time.monotonic() < deadline:
                if not await _outbox_backlog(conn):
                    break
                await asyncio.sleep(0.2)
            else:
                self.log("warning: the outbox did not drain before the measurement")
            with contextlib.suppress(asyncpg.PostgresError):
                await conn.execute("CHECKPOINT")  # needs superuser; harmless to skip
        finally:
            await conn.close()
        await asyncio.sleep(0.5)

    @contextlib.asynccontextmanager
    async def profiled(self, name: str, pid: int, duration_s: float) -> AsyncIterator[Path | None]:
        """py-spy the process during the measurement window (after the warm-up), if asked."""
        if self.config.profile_dir is None:
            yield None
            return
        output = self.config.profile_dir / f"{name}.txt"
        profiler = Profiler(pid, duration_s, output)
        if not profiler.available:
            self.log("py-spy not found: no profile")
            yield None
            return
        self._stack.callback(profiler.stop)

        async def later() -> None:
            await asyncio.sleep(self.config.warmup_s)
            profiler.start()

        task = asyncio.create_task(later())
        try:
            yield output
        finally:
            await task
            await asyncio.to_thread(profiler.wait)
            self.log(f"profile of {name}: {output}")


async def _outbox_backlog(conn: asyncpg.Connection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('events') IS NOT NULL")
    if not exists:
        return 0
    return int(await conn.fetchval("SELECT count(*) FROM events WHERE published_at IS NULL"))
