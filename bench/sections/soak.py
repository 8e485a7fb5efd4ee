"""Memory under a steady command load: the pipeline's RSS slope over a soak at 20 commands/s.

`POST /opportunities/{id}/activities` open-loop at `RATE` per second for `SOAK_S` seconds
(`BENCH_SOAK_S` overrides), spread over the bench's deals; the service's resident memory is
sampled every `SAMPLE_S` seconds. The slope is the least-squares fit over the samples after
the warm-up (`WARMUP_S`), in MiB per minute: a process that keeps what every event costs grows
linearly; one with bounded caches levels off.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import psutil

from bench.context import BenchContext, Section
from bench.httpload import build_request, open_loop
from bench.sections.commands import ACTIVITY, HOST
from bench.stats import rounded

NAME = "soak"
TITLE = "Pipeline memory over a 3-minute soak"
RATE = 20.0
SOAK_S = float(os.environ.get("BENCH_SOAK_S", "180"))
WARMUP_S = min(60.0, SOAK_S / 3)
SAMPLE_S = 2.0
TARGET_SLOPE = 0.5
MIB = 1024 * 1024


def _rss(pid: int) -> int:
    proc = psutil.Process(pid)
    own: int = proc.memory_info().rss
    return own + sum(int(c.memory_info().rss) for c in proc.children(recursive=True))


def slope_per_minute(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute."""
    if len(samples) < 2:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return 60.0 * cov / var


async def run(ctx: BenchContext) -> Section:
    pipeline = await ctx.pipeline()
    ids = await ctx.opportunities()
    auth = {"Authorization": f"Bearer {ctx.token}"}
    body = json.dumps(ACTIVITY).encode()
    requests = [
        build_request(HOST, pipeline.port, "POST", f"/opportunities/{oid}/activities", body, auth)
        for oid in ids
    ]
    await ctx.quiesce()
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    ctx.log(f"soak: {RATE:g} commands/s for {SOAK_S:g}s, RSS every {SAMPLE_S:g}s")

    async def sample() -> None:
        while True:
            samples.append((time.monotonic() - started, _rss(pipeline.pid) / MIB))
            await asyncio.sleep(SAMPLE_S)

    sampler = asyncio.create_task(sample())
    try:
        sent = await open_loop(
            HOST, pipeline.port, lambda i: requests[i % len(requests)], RATE, SOAK_S
        )
    finally:
        sampler.cancel()
    ok = sum(1 for s in sent if s.answer is not None and 200 <= s.answer.status < 300)
    steady = [(t, m) for t, m in samples if t >= WARMUP_S]
    slope = slope_per_minute(steady)
    end = samples[-1][0] if samples else 0.0
    last_minute = slope_per_minute([(t, m) for t, m in samples if t >= end - 60.0])
    met = slope is not None and slope <= TARGET_SLOPE
    first, last = samples[0][1], samples[-1][1]
    metrics = {
        "pipeline_rss_slope_mib_per_min": rounded(slope, 3),
        "pipeline_rss_slope_target": TARGET_SLOPE,
        "soak_pipeline_rss_slope_last_minute_mib_per_min": rounded(last_minute, 3),
        "pipeline_rss_slope_target_met": met,
        "soak_pipeline_rss_start_mib": round(first, 1),
        "soak_pipeline_rss_end_mib": round(last, 1),
        "soak_pipeline_rss_mib": [round(m, 1) for _, m in samples],
        "soak_commands_sent": len(sent),
        "soak_commands_ok": ok,
        "soak_duration_s": SOAK_S,
        "soak_warmup_s": WARMUP_S,
        "soak_rate": RATE,
    }
    section = Section(metrics)
    section.rows.append(
        ("pipeline RSS", f"{first:.1f} MiB at start, {last:.1f} MiB after {SOAK_S:g}s")
    )
    verdict = "met" if met else "MISSED"
    section.rows.append(
        (
            f"slope after {WARMUP_S:g}s warm-up",
            f"{slope or 0:8.3f} MiB/min  (target <= {TARGET_SLOPE}: {verdict})",
        )
    )
    section.rows.append(("  slope over the last minute", f"{last_minute or 0:8.3f} MiB/min"))
    section.rows.append(("commands", f"{ok} of {len(sent)} answered 2xx"))
    return section
