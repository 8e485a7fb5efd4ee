"""Command throughput: POST /opportunities/{id}/activities on the pipeline vs two baselines.

The bare CRUD app inserts one row without auth; the same-work app does what the command does,
the conventional way (token, row lock, insert, update, outbox row, one transaction). All three
get the same closed-loop harness, alternating (command, CRUD, same-work, command, ...) so that
slow drifts of the machine hit them alike. SQL round trips per request are counted apart,
through a wire proxy, on extra api-only instances (the proxy's cost stays out of the
throughput figures). The pipeline's streams grow as activities pile up: the section reports
how long they were.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import asyncpg

from bench.context import BenchContext, Section
from bench.httpload import LoadResult, build_request, closed_loop, counted_loop, merge
from bench.procs import ServiceProcess
from bench.roundtrips import RoundTripCounter
from bench.stats import rounded

NAME = "commands"
TITLE = "Command throughput vs CRUD baseline"
HOST = "127.0.0.1"
ACTIVITY = {
    "kind": "call",
    "summary": "Called the plant manager about the second CNC line; budget confirmed for Q3.",
    "next_step": "Send the revised proposal with the maintenance plan by Friday.",
}
TARGET_RATIO = 0.35
TARGET_SAME_WORK_RATIO = 0.8
#: requests sent one at a time through the counting proxy, after a few unmeasured ones
ROUND_TRIP_REQUESTS = 100
#: warm-up requests beyond one pass over every deal (which fills a fresh process's snapshots)
ROUND_TRIP_WARMUP = 10
#: other processes on the machine busier than this (in cores) make the figures suspect
NOISY_CORES = 0.3
EVENTS_PER_STREAM = (
    "SELECT count(*)::float / greatest(1, count(DISTINCT stream_id)) FROM events"
    " WHERE stream_type = 'opportunity'"
)


async def _measure(
    ctx: BenchContext,
    target: str,
    service: ServiceProcess,
    requests: list[bytes],
    duration_s: float,
    profile: bool,
) -> tuple[LoadResult, dict[str, float]]:
    cfg = ctx.config
    await ctx.quiesce()
    meter = ctx.cpu_meter(service.pid)
    ctx.log(
        f"{target}: {cfg.concurrency} connections, {cfg.warmup_s:g}s warm-up + "
        f"{duration_s:g}s measured"
    )
    profiling = ctx.profiled(target, service.pid, duration_s) if profile else nullcontext()
    async with profiling:
        meter.start()
        result = await closed_loop(
            target,
            HOST,
            service.port,
            _cycle(requests),
            cfg.concurrency,
            cfg.warmup_s,
            duration_s,
        )
        cpu = meter.stop()
    return result, cpu


def _mean_cpu(samples: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(sum(s[k] for s in samples) / len(samples), 3) for k in samples[0]}


def _metrics(prefix: str, result: LoadResult, cpu: dict[str, float]) -> dict[str, Any]:
    lat = result.latency()
    return {
        f"{prefix}_p50_ms": rounded(lat.p50),
        f"{prefix}_p90_ms": rounded(lat.p90),
        f"{prefix}_p99_ms": rounded(lat.p99),
        f"{prefix}_max_ms": rounded(lat.max),
        f"{prefix}_ok": result.ok,
        f"{prefix}_errors": result.error_count,
        f"{prefix}_errors_by_kind": result.errors,
        f"{prefix}_first_error": result.first_error,
        f"{prefix}_rps_by_second": result.per_second,
        f"{prefix}_cpu_cores": cpu,
        f"{prefix}_service_cpu_ms_per_request": rounded(
            1000.0 * cpu.get("service_cores", 0.0) / result.rps if result.rps else None, 3
        ),
    }


async def _scalar(dsn: str, sql: str) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        return float(await conn.fetchval(sql) or 0)
    finally:
        await conn.close()


def _cycle(requests: list[bytes]) -> Callable[[int], bytes]:
    return lambda i: requests[i % len(requests)]


async def _round_trips(ctx: BenchContext, ids: list[str], body: bytes) -> dict[str, float]:
    """SQL round trips per request of each target, counted on the wire, one request at a time.

    `command_waker` is the pipeline's NOTIFYs after its commits (at most one per relay
    linger, sent off the requests' path), counted apart."""
    auth = {"Authorization": f"Bearer {ctx.token}"}
    paths = [f"/opportunities/{oid}/activities" for oid in ids]
    counts: dict[str, float] = {}
    async with RoundTripCounter(ctx.infra.database_url) as proxy:
        targets = {
            "command": await ctx.pipeline("pipeline-counted", proxy.url, mode="api"),
            "crud": await ctx.crud_app("crud-counted", proxy.dsn),
            "same_work": await ctx.same_work_app("same-work-counted", proxy.dsn),
        }
        for name, service in targets.items():
            requests = [build_request(HOST, service.port, "POST", p, body, auth) for p in paths]
            await counted_loop(
                name,
                HOST,
                service.port,
                _cycle(requests),
                1,
                len(requests) + ROUND_TRIP_WARMUP,
                0,
            )
            before, waker_before = proxy.count, proxy.apart_count
            result = await counted_loop(
                name,
                HOST,
                service.port,
                _cycle(requests),
                1,
                0,
                ROUND_TRIP_REQUESTS,
            )
            counts[name] = round((proxy.count - before) / max(1, result.ok), 2)
            if name == "command":
                waker = proxy.apart_count - waker_before
                counts["command_waker"] = round(waker / max(1, result.ok), 2)
            service.stop()
    return counts


async def run(ctx: BenchContext) -> Section:
    cfg = ctx.config
    pipeline = await ctx.pipeline()
    ids = await ctx.opportunities()
    crud = await ctx.crud_app()
    same = await ctx.same_work_app()
    body = json.dumps(ACTIVITY).encode()
    auth = {"Authorization": f"Bearer {ctx.token}"}
    paths = [f"/opportunities/{oid}/activities" for oid in ids]
    commands = [build_request(HOST, pipeline.port, "POST", p, body, auth) for p in paths]
    inserts = [build_request(HOST, crud.port, "POST", p, body) for p in paths]
    same_work = [build_request(HOST, same.port, "POST", p, body, auth) for p in paths]
    per_round = cfg.duration_s / cfg.rounds

    dsn = ctx.infra.asyncpg_dsn
    stream_before = await _scalar(dsn, EVENTS_PER_STREAM)
    targets = (
        ("command", pipeline, commands),
        ("crud", crud, inserts),
        ("same_work", same, same_work),
    )
    runs: dict[str, list[LoadResult]] = {name: [] for name, _, _ in targets}
    cpus: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in targets}
    for r in range(cfg.rounds):
        for name, service, requests in targets:
            result, cpu = await _measure(ctx, name, service, requests, per_round, r == 0)
            runs[name].append(result)
            cpus[name].append(cpu)
    stream_after = await _scalar(dsn, EVENTS_PER_STREAM)
    round_trips = await _round_trips(ctx, ids, body)

    merged = {name: merge(results) for name, results in runs.items()}
    cpu_of = {name: _mean_cpu(samples) for name, samples in cpus.items()}
    cmd, base, same_res = merged["command"], merged["crud"], merged["same_work"]
    ratio = cmd.rps / base.rps if base.rps else None
    same_ratio = cmd.rps / same_res.rps if same_res.rps else None
    met = ratio is not None and ratio >= TARGET_RATIO
    same_met = same_ratio is not None and same_ratio >= TARGET_SAME_WORK_RATIO
    metrics: dict[str, Any] = {
        "command_throughput_rps": round(cmd.rps, 1),
        **_metrics("command", cmd, cpu_of["command"]),
        "crud_baseline_rps": round(base.rps, 1),
        **_metrics("crud", base, cpu_of["crud"]),
        "same_work_crud_rps": round(same_res.rps, 1),
        **_metrics("same_work_crud", same_res, cpu_of["same_work"]),
        "command_cpu_ms": None,
        "same_work_crud_cpu_ms": None,
        "command_rps_by_round": [round(r.rps, 1) for r in runs["command"]],
        "crud_rps_by_round": [round(r.rps, 1) for r in runs["crud"]],
        "same_work_crud_rps_by_round": [round(r.rps, 1) for r in runs["same_work"]],
        "command_vs_crud_ratio": rounded(ratio, 3),
        "command_vs_crud_target": TARGET_RATIO,
        "command_vs_crud_target_met": met,
        "command_vs_same_work_ratio": rounded(same_ratio, 3),
        "command_vs_same_work_target": TARGET_SAME_WORK_RATIO,
        "command_vs_same_work_target_met": same_met,
        "command_sql_round_trips_per_request": round_trips["command"],
        "command_waker_round_trips_per_request": round_trips["command_waker"],
        "crud_sql_round_trips_per_request": round_trips["crud"],
        "same_work_crud_sql_round_trips_per_request": round_trips["same_work"],
        "command_events_per_stream_before": round(stream_before, 1),
        "command_events_per_stream_after": round(stream_after, 1),
        "command_concurrency": cfg.concurrency,
        "command_warmup_s": cfg.warmup_s,
        "command_duration_s": cfg.duration_s,
        "command_rounds": cfg.rounds,
        "command_opportunities": len(ids),
    }
    metrics["command_cpu_ms"] = metrics["command_service_cpu_ms_per_request"]
    metrics["same_work_crud_cpu_ms"] = metrics["same_work_crud_service_cpu_ms_per_request"]
    section = Section(metrics)
    labels = {"command": "pipeline command", "crud": "CRUD baseline", "same_work": "same-work CRUD"}
    for name, label in labels.items():
        res, cpu = merged[name], cpu_of[name]
        lat = res.latency()
        section.rows.append(
            (
                f"{label} (c={res.concurrency})",
                f"{res.rps:8.1f} req/s  p50 {lat.p50 or 0:6.1f} ms  p99 {lat.p99 or 0:6.1f} ms  "
                f"errors {res.error_count}",
            )
        )
        section.rows.append(
            (f"  cpu cores during {label}", ", ".join(f"{k} {v}" for k, v in cpu.items()))
        )
    section.rows.append(
        (
            "  rounds (req/s)",
            f"command {metrics['command_rps_by_round']}, CRUD {metrics['crud_rps_by_round']}, "
            f"same-work {metrics['same_work_crud_rps_by_round']}",
        )
    )
    section.rows.append(
        (
            "  service CPU per request",
            f"command {metrics['command_cpu_ms']} ms, "
            f"CRUD {metrics['crud_service_cpu_ms_per_request']} ms, "
            f"same-work {metrics['same_work_crud_cpu_ms']} ms",
        )
    )
    section.rows.append(
        (
            "  SQL round trips per request",
            f"command {round_trips['command']} (+ {round_trips['command_waker']} NOTIFY after "
            f"commit, off the request's path), CRUD {round_trips['crud']}, "
            f"same-work {round_trips['same_work']}",
        )
    )
    section.rows.append(
        (
            "  events per opportunity stream",
            f"{stream_before:.1f} before, {stream_after:.1f} after the measurements",
        )
    )
    for label, value, target, ok in (
        ("command / CRUD", ratio, TARGET_RATIO, met),
        ("command / same-work CRUD", same_ratio, TARGET_SAME_WORK_RATIO, same_met),
    ):
        verdict = "met" if ok else "MISSED"
        section.rows.append((label, f"{value or 0:8.3f}  (target >= {target}: {verdict})"))
    for name, res in merged.items():
        if res.first_error:
            section.notes.append(f"first {labels[name]} error: {res.first_error}")
    busy = max(c.get("other_cores", 0.0) for c in cpu_of.values())
    if busy > NOISY_CORES:
        section.notes.append(
            f"other processes used up to {busy:.2f} cores during the measurements: "
            "the figures are disturbed (see *_cpu_cores)"
        )
    steal = max(c.get("steal_cores", 0.0) for c in cpu_of.values())
    if steal > NOISY_CORES:
        section.notes.append(
            f"the host gave up to {steal:.2f} cores to other guests during the measurements "
            "(steal): the figures are disturbed (see *_cpu_cores)"
        )
    return section
