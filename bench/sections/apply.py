"""Consumer apply rate: how fast a consumer applies a backlog, one event per transaction vs batched.

A backlog of real pipeline events (the `history` module's deals over 50 accounts) is published
once on a topic of its own. A plain aiokafka consumer that does nothing reads it first: the
ceiling (`apply_raw_consume_events_per_s`). Then the consumer runner, in this process, applies the
whole backlog into a fresh database per run, with the services' own handlers:

- collab's timeline: one event per transaction with the one-event handler (the path before
  batching, `SIGHTLINE_CONSUMER_BATCH_MAX=1`), batched with that same handler, and batched with
  the bulk handler collab runs now;
- scoring's facts: one event per transaction, and batched with its bulk handler.

A run's clock starts when the runner's first fetch comes back (joining the group is not
counted) and stops when the last inbox row is there; the slow modes stop after TIME_BOX_S and
count what they applied by then (their rate is steady). The plain consumer reads the backlog
again just before each run, and each run is compared with that reading.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import history, seed
from bench.context import BenchContext, Section
from bench.report import note_noise
from services.collab_svc.application import timeline
from services.collab_svc.bootstrap import MIGRATIONS as COLLAB_MIGRATIONS
from services.scoring_svc.application.project import PIPELINE_FACTS, record_facts
from services.scoring_svc.bootstrap import MIGRATIONS as SCORING_MIGRATIONS
from shared.db import make_engine, migrate
from shared.events.registry import registry
from shared.messaging.consumer import BatchHandler, ConsumerRunner, Handler
from shared.messaging.kafka import ensure_topics
from shared.settings import Settings

NAME = "apply"
TITLE = "Consumer apply rate: one event per transaction vs batched"
ACCOUNTS = 50
BATCH_MAX = Settings.model_fields["consumer_batch_max"].default
#: no progress for this long ends a run as failed
STALL_S = 60.0
NOISY_CORES = 0.3
#: the CPU groups of a run: the consumer (this process), PostgreSQL, the broker
OURS = ("loadgen_cores", "postgres_cores", "broker_cores")
#: the modes that apply one event at a time would take minutes for the whole backlog
TIME_BOX_S = 15.0


@dataclass(frozen=True)
class Mode:
    key: str
    label: str
    migrations: Path
    batch_max: int
    handlers: dict[str, Handler]
    batch_handlers: dict[str, BatchHandler]
    time_box_s: float | None = TIME_BOX_S


MODES = (
    Mode(
        "collab_apply_one_at_a_time",
        "collab timeline, one event per transaction",
        COLLAB_MIGRATIONS,
        1,
        dict.fromkeys(timeline.HANDLED, timeline.project),
        {},
    ),
    Mode(
        "collab_apply_batched_per_event_handler",
        f"collab timeline, batched (<= {BATCH_MAX}), one-event handler",
        COLLAB_MIGRATIONS,
        BATCH_MAX,
        dict.fromkeys(timeline.HANDLED, timeline.project),
        {},
    ),
    Mode(
        "collab_apply",
        f"collab timeline, batched (<= {BATCH_MAX}), bulk handler (as collab runs it)",
        COLLAB_MIGRATIONS,
        BATCH_MAX,
        {},
        dict.fromkeys(timeline.HANDLED, timeline.project_many),
        None,
    ),
    Mode(
        "scoring_apply_one_at_a_time",
        "scoring facts, one event per transaction",
        SCORING_MIGRATIONS,
        1,
        {},
        dict.fromkeys(PIPELINE_FACTS, record_facts),
    ),
    Mode(
        "scoring_apply",
        f"scoring facts, batched (<= {BATCH_MAX}), bulk handler (as scoring runs it)",
        SCORING_MIGRATIONS,
        BATCH_MAX,
        {},
        dict.fromkeys(PIPELINE_FACTS, record_facts),
        None,
    ),
)


async def _raw_consume(bootstrap: str, topic: str, total: int) -> float:
    """Seconds a consumer that does nothing takes to read the topic from its beginning."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=10,
        max_poll_records=500,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(seed.PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen = 0
        started = time.monotonic()
        while seen < total:
            batches = await consumer.getmany(timeout_ms=500)
            seen += sum(len(messages) for messages in batches.values())
        return time.monotonic() - started
    finally:
        await consumer.stop()


async def _inbox_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM inbox"))).scalar() or 0)


async def _apply(ctx: BenchContext, mode: Mode, topic: str, total: int) -> dict[str, Any]:
    url = await ctx.database(f"apply{uuid.uuid4().hex[:6]}")
    engine = make_engine(url, pool_size=4)
    try:
        await migrate(engine, mode.migrations)
        settings = Settings.model_validate(
            {
                "service": "collab" if mode.migrations == COLLAB_MIGRATIONS else "scoring",
                "DATABASE_URL": url,
                "KAFKA_BOOTSTRAP_SERVERS": ctx.infra.bootstrap,
                "topic_prefix": ctx.infra.topic_prefix,
                "topic_partitions": seed.PARTITIONS,
            }
        )
        runner = ConsumerRunner(
            engine,
            settings,
            registry,
            f"bench-apply-{uuid.uuid4().hex[:8]}",
            [topic],
            mode.handlers,
            batch_handlers=mode.batch_handlers,
            batch_max=mode.batch_max,
        )
        task = asyncio.create_task(runner.run())
        try:
            await asyncio.wait_for(runner.assigned.wait(), 120)
            meter = ctx.cpu_meter(None)
            meter.start()
            started = progress = time.monotonic()
            done = best = 0
            while done < total:
                await asyncio.sleep(0.05)
                done = await _inbox_count(engine)
                if mode.time_box_s and time.monotonic() - started > mode.time_box_s:
                    break
                if done > best:
                    best, progress = done, time.monotonic()
                elif time.monotonic() - progress > STALL_S:
                    raise RuntimeError(f"{mode.label}: stuck at {done} of {total} events")
            took = time.monotonic() - started
            cpu = meter.stop()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        await engine.dispose()
    return {
        "events_per_s": round(done / took, 1),
        "events": done,
        "seconds": round(took, 2),
        "consumer_cpu_ms_per_event": round(1000.0 * cpu["loadgen_cores"] * took / done, 3),
        # consumer, PostgreSQL and broker: steadier than the rate when the machine is shared
        "cpu_ms_per_event": round(1000.0 * sum(cpu[k] for k in OURS) * took / done, 3),
        "cpu_cores": cpu,
    }


async def run(ctx: BenchContext) -> Section:
    total = ctx.config.apply_events
    topic = f"{ctx.infra.topic_prefix}apply-{uuid.uuid4().hex[:6]}.events"
    await ensure_topics(ctx.infra.bootstrap, [topic], seed.PARTITIONS)
    end = datetime.now(UTC)
    per_account = -(-total // ACCOUNTS)
    backlog = [
        env
        for a in range(ACCOUNTS)
        for env in history.envelopes(f"bench-apply-{a}", per_account, end)
    ][:total]
    ctx.log(f"apply: publishing {len(backlog)} pipeline events on {topic}")
    await seed.publish(ctx.infra.bootstrap, topic, backlog, "/sightline/pipeline")
    results: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        raw_s = await _raw_consume(ctx.infra.bootstrap, topic, len(backlog))
        ctx.log(f"apply: {mode.label}")
        results[mode.key] = await _apply(ctx, mode, topic, len(backlog))
        results[mode.key]["apply_raw_consume_events_per_s"] = round(len(backlog) / raw_s, 1)
    return _report(len(backlog), results)


def _report(total: int, results: dict[str, dict[str, Any]]) -> Section:
    readings = [r["apply_raw_consume_events_per_s"] for r in results.values()]
    metrics: dict[str, Any] = {
        "apply_backlog_events": total,
        "apply_raw_consume_events_per_s": sorted(readings)[len(readings) // 2],
        "apply_raw_consume_events_per_s_readings": readings,
    }
    for key, r in results.items():
        metrics[f"{key}_events_per_s"] = r["events_per_s"]
        metrics[f"{key}_consumer_cpu_ms_per_event"] = r["consumer_cpu_ms_per_event"]
        metrics[f"{key}_cpu_ms_per_event"] = r["cpu_ms_per_event"]
        metrics[f"{key}_cpu_cores"] = r["cpu_cores"]
    collab = results["collab_apply"]["events_per_s"]
    scoring = results["scoring_apply"]["events_per_s"]
    beside = results["collab_apply"]["apply_raw_consume_events_per_s"]  # read just before it
    metrics["collab_apply_vs_raw_consume"] = round(collab / beside, 3)
    metrics["collab_apply_speedup"] = round(
        collab / results["collab_apply_one_at_a_time"]["events_per_s"], 2
    )
    metrics["scoring_apply_speedup"] = round(
        scoring / results["scoring_apply_one_at_a_time"]["events_per_s"], 2
    )
    for name in ("collab", "scoring"):
        metrics[f"{name}_apply_cpu_per_event_vs_one_at_a_time"] = round(
            results[f"{name}_apply"]["cpu_ms_per_event"]
            / results[f"{name}_apply_one_at_a_time"]["cpu_ms_per_event"],
            3,
        )
    section = Section(metrics)
    shown = " / ".join(f"{v:,.0f}" for v in readings)
    section.rows.append((f"backlog of {total} events, plain consumer", f"{shown} events/s"))
    for mode in MODES:
        r = results[mode.key]
        section.rows.append(
            (
                f"  {mode.label}",
                f"{r['events_per_s']:,.0f} events/s ({r['events']} in {r['seconds']} s); "
                f"CPU per event {r['cpu_ms_per_event']} ms, "
                f"of which consumer {r['consumer_cpu_ms_per_event']} ms",
            )
        )
    section.rows += [
        (
            "collab consumer / raw consume (read just before)",
            f"{metrics['collab_apply_vs_raw_consume']} (rebuilds go through `sightline replay`:"
            " see the rebuild section)",
        ),
        (
            "batched / one at a time: rate, CPU per event",
            f"collab x{metrics['collab_apply_speedup']}, "
            f"{metrics['collab_apply_cpu_per_event_vs_one_at_a_time']}; "
            f"scoring x{metrics['scoring_apply_speedup']}, "
            f"{metrics['scoring_apply_cpu_per_event_vs_one_at_a_time']}",
        ),
    ]
    worst = max((r["cpu_cores"] for r in results.values()), key=lambda c: c["other_cores"])
    note_noise(section, worst, NOISY_CORES)
    return section
