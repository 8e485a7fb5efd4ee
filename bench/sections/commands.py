"""Command throughput: POST /opportunities/{id}/activities on the pipeline vs a plain CRUD app.

Both targets get the same closed-loop harness, alternating (command, CRUD, command, ...) so
that slow drifts of the machine hit both alike. The pipeline's streams grow as the
activities pile up: the section reports how long they were.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from typing import Any

import asyncpg

from bench.context import BenchContext, Section
from bench.httpload import LoadResult, build_request, closed_loop, merge
from bench.procs import ServiceProcess
from bench.stats import rounded

NAME = "commands"
TITLE = "Command throughput vs CRUD baseline"
HOST = "127.0.0.1"
ACTIVITY = {
    "kind": "call",
    "summary": "Called the plant manager about the second CNC line; budget confirmed for Q3.",
    "next_step": "Send the revised proposal with the maintenance plan by Friday.",
}
TARGET_RATIO = 0.5
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
            lambda i: requests[i % len(requests)],
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


async def run(ctx: BenchContext) -> Section:
    cfg = ctx.config
    pipeline = await ctx.pipeline()
    ids = await ctx.opportunities()
    crud = await ctx.crud_app()
    body = json.dumps(ACTIVITY).encode()
    auth = {"Authorization": f"Bearer {ctx.token}"}
    paths = [f"/opportunities/{oid}/activities" for oid in ids]
    commands = [build_request(HOST, pipeline.port, "POST", p, body, auth) for p in paths]
    inserts = [build_request(HOST, crud.port, "POST", p, body) for p in paths]
    per_round = cfg.duration_s / cfg.rounds

    dsn = ctx.infra.asyncpg_dsn
    stream_before = await _scalar(dsn, EVENTS_PER_STREAM)
    cmd_runs, cmd_cpus, crud_runs, crud_cpus = [], [], [], []
    for r in range(cfg.rounds):
        result, cpu = await _measure(ctx, "command", pipeline, commands, per_round, r == 0)
        cmd_runs.append(result)
        cmd_cpus.append(cpu)
        result, cpu = await _measure(ctx, "crud", crud, inserts, per_round, r == 0)
        crud_runs.append(result)
        crud_cpus.append(cpu)
    stream_after = await _scalar(dsn, EVENTS_PER_STREAM)

    cmd, base = merge(cmd_runs), merge(crud_runs)
    cmd_cpu, base_cpu = _mean_cpu(cmd_cpus), _mean_cpu(crud_cpus)
    ratio = cmd.rps / base.rps if base.rps else None
    met = ratio is not None and ratio >= TARGET_RATIO
    metrics: dict[str, Any] = {
        "command_throughput_rps": round(cmd.rps, 1),
        **_metrics("command", cmd, cmd_cpu),
        "crud_baseline_rps": round(base.rps, 1),
        **_metrics("crud", base, base_cpu),
        "command_rps_by_round": [round(r.rps, 1) for r in cmd_runs],
        "crud_rps_by_round": [round(r.rps, 1) for r in crud_runs],
        "command_vs_crud_ratio": rounded(ratio, 3),
        "command_vs_crud_target": TARGET_RATIO,
        "command_vs_crud_target_met": met,
        "command_events_per_stream_before": round(stream_before, 1),
        "command_events_per_stream_after": round(stream_after, 1),
        "command_concurrency": cfg.concurrency,
        "command_warmup_s": cfg.warmup_s,
        "command_duration_s": cfg.duration_s,
        "command_rounds": cfg.rounds,
        "command_opportunities": len(ids),
    }
    section = Section(metrics)
    for label, res, cpu in (("pipeline command", cmd, cmd_cpu), ("CRUD baseline", base, base_cpu)):
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
            f"command {metrics['command_rps_by_round']}, CRUD {metrics['crud_rps_by_round']}",
        )
    )
    section.rows.append(
        (
            "  service CPU per request",
            f"command {metrics['command_service_cpu_ms_per_request']} ms, "
            f"CRUD {metrics['crud_service_cpu_ms_per_request']} ms",
        )
    )
    section.rows.append(
        (
            "  events per opportunity stream",
            f"{stream_before:.1f} before, {stream_after:.1f} after the measurements",
        )
    )
    verdict = "met" if met else "MISSED"
    section.rows.append(
        ("command / CRUD", f"{ratio or 0:8.3f}  (target >= {TARGET_RATIO}: {verdict})")
    )
    if cmd.first_error:
        section.notes.append(f"first command error: {cmd.first_error}")
    if base.first_error:
        section.notes.append(f"first CRUD error: {base.first_error}")
    busy = max(cmd_cpu.get("other_cores", 0.0), base_cpu.get("other_cores", 0.0))
    if busy > NOISY_CORES:
        section.notes.append(
            f"other processes used up to {busy:.2f} cores during the measurements: "
            "the figures are disturbed (see *_cpu_cores)"
        )
    return section
