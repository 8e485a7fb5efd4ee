"""The floor under both HTTP paths: the same single-row INSERTs straight through asyncpg."""

from __future__ import annotations

import asyncio
import time

import asyncpg

from bench.context import BenchContext, Section
from bench.crud_app import INSERT, TABLE_DDL, row_values
from bench.httpload import LoadResult
from bench.sections.commands import ACTIVITY
from bench.stats import rounded

NAME = "raw_insert"
TITLE = "Raw single-row INSERT (asyncpg pool, one commit per row)"
TABLE = "raw_activities"


async def _insert_loop(
    pool: asyncpg.Pool, opportunity_ids: list[str], concurrency: int, warmup_s: float, dur: float
) -> LoadResult:
    result = LoadResult("raw", concurrency, dur)
    result.per_second = [0] * max(1, int(dur + 0.999))
    clock = time.perf_counter
    start = clock() + warmup_s
    end = start + dur
    insert = INSERT.format(table=TABLE)
    counter = iter(range(10**12))

    async def worker() -> None:
        async with pool.acquire() as conn:
            while clock() < end:
                oid = opportunity_ids[next(counter) % len(opportunity_ids)]
                sent = clock()
                try:
                    await conn.execute(insert, *row_values(oid, ACTIVITY))
                except asyncpg.PostgresError as exc:
                    if start <= clock() < end:
                        result._error(type(exc).__name__, repr(exc))
                    continue
                done = clock()
                if start <= done < end:
                    result.ok += 1
                    result.latencies_ms.append((done - sent) * 1000.0)
                    result.per_second[min(int(done - start), len(result.per_second) - 1)] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


async def run(ctx: BenchContext) -> Section:
    cfg = ctx.config
    ids = [f"raw-{i}" for i in range(cfg.opportunities)]
    pool = await asyncpg.create_pool(
        ctx.infra.asyncpg_dsn, min_size=cfg.concurrency, max_size=cfg.concurrency
    )
    try:
        async with pool.acquire() as conn:
            await conn.execute(TABLE_DDL.format(table=TABLE))
        await ctx.quiesce()
        ctx.log(f"raw insert: {cfg.concurrency} connections, {cfg.duration_s:g}s measured")
        meter = ctx.cpu_meter(None)
        meter.start()
        result = await _insert_loop(pool, ids, cfg.concurrency, cfg.warmup_s, cfg.duration_s)
        cpu = meter.stop()
    finally:
        await pool.close()
    lat = result.latency()
    section = Section(
        {
            "raw_insert_rps": round(result.rps, 1),
            "raw_insert_p50_ms": rounded(lat.p50),
            "raw_insert_p99_ms": rounded(lat.p99),
            "raw_insert_errors": result.error_count,
            "raw_insert_cpu_cores": cpu,
            "raw_insert_concurrency": cfg.concurrency,
            "raw_insert_duration_s": cfg.duration_s,
        }
    )
    section.rows.append(
        (
            f"raw asyncpg INSERT (c={cfg.concurrency})",
            f"{result.rps:8.1f} rows/s p50 {lat.p50 or 0:6.2f} ms  p99 {lat.p99 or 0:6.2f} ms  "
            f"errors {result.error_count}",
        )
    )
    section.rows.append(("  cpu cores", ", ".join(f"{k} {v}" for k, v in cpu.items())))
    return section
