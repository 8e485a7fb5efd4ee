"""Command cost against stream length: the same command on deals with 1, 100 and 1,000 events.

Deals are opened through the API and given one activity through it; the longer histories are
then made in SQL as copies of that activity (new ids and versions, marked published so the
relay leaves them alone), which is what a year of activity looks like to a load. One
unmeasured command per deal lets the service fold each history once (the cold load); the
measured commands then run at the bench's concurrency, the lengths alternating round by round.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from bench import seed
from bench.context import BenchContext, Section
from bench.httpload import build_request, counted_loop
from bench.sections.commands import ACTIVITY, HOST, NOISY_CORES
from bench.stats import rounded

NAME = "streams"
TITLE = "Command cost against stream length"
LENGTHS = (1, 100, 1000)
#: 1,440 measured commands per length: over a second of the service's CPU each, which its
#: clock-tick counters (10 ms) read to about 1% (240 commands moved the ratio by up to ±0.3)
DEALS_PER_LENGTH = 120
COMMANDS_PER_DEAL = 12
TARGET_RATIO = 1.2
GROW = """
INSERT INTO events (event_id, stream_id, stream_type, version, event_name, event_version,
    payload, metadata, partition_key, occurred_at, recorded_at, published_at)
SELECT gen_random_uuid(), e.stream_id, e.stream_type, v, e.event_name, e.event_version,
    jsonb_set(e.payload, '{activity_id}', to_jsonb('bench-act-' || v)), e.metadata,
    e.partition_key, e.occurred_at, e.recorded_at, now()
FROM events e, generate_series(3, $2::int) AS v
WHERE e.stream_id = ANY($1::text[]) AND e.version = 2
"""
LENGTH_OF = """
SELECT avg(n)::float FROM (SELECT max(version) AS n FROM events
WHERE stream_id = ANY($1::text[]) GROUP BY stream_id) s
"""


def _streams(ids: list[str]) -> list[str]:
    return [f"opportunity-{oid}" for oid in ids]


async def _deals(ctx: BenchContext, length: int) -> list[str]:
    """Deals whose streams hold `length` events before the warm-up command."""
    service = await ctx.pipeline()
    accounts = [f"bench-account-{i}" for i in range(4)]
    ids = await seed.open_opportunities(
        service.base_url, ctx.token, DEALS_PER_LENGTH, accounts, ctx.config.concurrency
    )
    if length == 1:
        return ids
    # the warm-up command adds one event: the history before it is length - 1 long
    body = ACTIVITY | {"summary": "the history's first call"}
    auth = {"Authorization": f"Bearer {ctx.token}"}
    requests = [
        build_request(
            HOST, service.port, "POST", f"/opportunities/{oid}/activities", _json(body), auth
        )
        for oid in ids
    ]
    await counted_loop("history", HOST, service.port, lambda i: requests[i], 1, 0, len(ids))
    conn = await asyncpg.connect(ctx.infra.asyncpg_dsn)
    try:
        await conn.execute(GROW, _streams(ids), length - 1)
    finally:
        await conn.close()
    return ids


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def _length(ctx: BenchContext, ids: list[str]) -> float:
    conn = await asyncpg.connect(ctx.infra.asyncpg_dsn)
    try:
        return float(await conn.fetchval(LENGTH_OF, _streams(ids)) or 0)
    finally:
        await conn.close()


async def run(ctx: BenchContext) -> Section:
    cfg = ctx.config
    await ctx.opportunities()  # the accounts are registered and known to the pipeline
    pipeline = await ctx.pipeline()
    auth = {"Authorization": f"Bearer {ctx.token}"}
    body = _json(ACTIVITY)
    deals = {length: await _deals(ctx, length) for length in LENGTHS}
    before = {length: await _length(ctx, ids) for length, ids in deals.items()}
    requests = {
        length: [
            build_request(
                HOST, pipeline.port, "POST", f"/opportunities/{oid}/activities", body, auth
            )
            for oid in ids
        ]
        for length, ids in deals.items()
    }
    cold_ms: dict[int, float] = {}
    cpu_s: dict[int, float] = dict.fromkeys(LENGTHS, 0.0)
    done: dict[int, int] = dict.fromkeys(LENGTHS, 0)
    other: list[float] = []
    for length, reqs in requests.items():
        await ctx.quiesce()
        meter = ctx.cpu_meter(pipeline.pid)
        t0 = time.monotonic()
        meter.start()
        warm = await counted_loop(
            f"cold-{length}", HOST, pipeline.port, _nth(reqs), 1, 0, len(reqs)
        )
        cores = meter.stop()
        cold_ms[length] = 1000 * cores["service_cores"] * (time.monotonic() - t0) / max(1, warm.ok)
    rounds = max(1, cfg.rounds)
    per_round = COMMANDS_PER_DEAL * DEALS_PER_LENGTH // rounds
    for _ in range(rounds):
        for length, reqs in requests.items():
            await ctx.quiesce()
            meter = ctx.cpu_meter(pipeline.pid)
            t0 = time.monotonic()
            meter.start()
            result = await counted_loop(
                f"len-{length}",
                HOST,
                pipeline.port,
                _cycle(reqs),
                cfg.concurrency,
                0,
                per_round,
            )
            cores = meter.stop()
            wall = time.monotonic() - t0
            cpu_s[length] += cores["service_cores"] * wall
            done[length] += result.ok
            other.append(cores.get("other_cores", 0.0))
            if result.error_count:
                ctx.log(f"len-{length}: {result.error_count} errors, first {result.first_error}")
    after = {length: await _length(ctx, ids) for length, ids in deals.items()}
    cpu_ms = {n: 1000 * cpu_s[n] / done[n] if done[n] else None for n in LENGTHS}
    first, last = cpu_ms[LENGTHS[0]], cpu_ms[LENGTHS[-1]]
    ratio = last / first if first and last else None
    names = {1: "1_event", 100: "100_events", 1000: "1000_events"}
    metrics: dict[str, Any] = {}
    for n in LENGTHS:
        metrics[f"command_cpu_ms_{names[n]}"] = rounded(cpu_ms[n], 3)
        metrics[f"streams_cold_cpu_ms_{names[n]}"] = rounded(cold_ms[n], 3)
        metrics[f"streams_events_before_{names[n]}"] = round(before[n], 1)
        metrics[f"streams_events_after_{names[n]}"] = round(after[n], 1)
        metrics[f"streams_ok_{names[n]}"] = done[n]
    metrics["command_cpu_ratio_1000_to_1"] = rounded(ratio, 3)
    metrics["command_cpu_ratio_target"] = TARGET_RATIO
    metrics["command_cpu_ratio_target_met"] = ratio is not None and ratio <= TARGET_RATIO
    section = Section(metrics)
    for n in LENGTHS:
        section.rows.append(
            (
                f"{n} event(s) per stream",
                f"{cpu_ms[n] or 0:7.3f} ms service CPU per command (warm), "
                f"{cold_ms[n]:7.3f} ms cold; {before[n]:.0f} -> {after[n]:.0f} events",
            )
        )
    verdict = "met" if metrics["command_cpu_ratio_target_met"] else "MISSED"
    section.rows.append(("1000 / 1", f"{ratio or 0:8.3f}  (target <= {TARGET_RATIO}: {verdict})"))
    if other and max(other) > NOISY_CORES:
        section.notes.append(
            f"other processes used up to {max(other):.2f} cores: the figures are disturbed"
        )
    return section


def _nth(requests: list[bytes]) -> Callable[[int], bytes]:
    return lambda i: requests[i]


def _cycle(requests: list[bytes]) -> Callable[[int], bytes]:
    return lambda i: requests[i % len(requests)]
