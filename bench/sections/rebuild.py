"""Rebuilding projections from their topics (`sightline replay`) against a consumer doing nothing.

Seeds EVENTS pipeline events (the synthetic deals of `bench/history.py`: openings, activities,
stage moves over ACCOUNTS accounts) on topics of their own, and the accounts' registrations on
their collab.events; migrates a scoring and a collab database on the run's server. Then, in
ROUNDS alternating rounds on the same broker: a group-less aiokafka consumer reads the pipeline
topic from its beginning to its end and does nothing with the messages (the floor), the scoring
service's replay (both topics into `scoring_facts`) and collab's (the timeline), each exactly as
`sightline replay` runs it, swap included. The live groups' offsets are committed at the
topics' ends and an unmeasured first round fills the live tables, so the measured swaps find
them as a running service that has caught up keeps them.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import history, seed
from bench.context import BenchContext, Section
from bench.cpu import own_cpu_seconds, tree_cpu_seconds
from bench.report import note_noise
from services.collab_svc.bootstrap import MIGRATIONS as COLLAB_MIGRATIONS
from services.collab_svc.entrypoints.consumers.replay import plan as collab_plan
from services.scoring_svc.bootstrap import MIGRATIONS as SCORING_MIGRATIONS
from services.scoring_svc.entrypoints.consumers.replay import plan as scoring_plan
from shared.clock import SystemClock
from shared.db import make_engine, migrate
from shared.events.registry import registry
from shared.messaging.kafka import ensure_topics
from shared.replay.reader import BATCH_RECORDS, TopicReader
from shared.replay.rebuild import Rebuild, ReplayOptions, ReplayResult
from shared.replay.spec import Projection
from shared.settings import Settings

NAME = "rebuild"
TITLE = "Projection rebuild from the topics vs a consumer doing nothing (target >= 30%)"
EVENTS = 50_000
ACCOUNTS = 50
ROUNDS = 3
TARGET = 0.3


async def raw_consume(settings: Settings, topic: str, events: int) -> tuple[float, float]:
    """Seconds and CPU seconds (this process) to read `events` records and do nothing."""
    started, cpu = time.perf_counter(), own_cpu_seconds()
    consumer = AIOKafkaConsumer(  # the replay's reader settings, without a group
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_poll_records=BATCH_RECORDS,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        read = 0
        while read < events:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                read += len(records)
    finally:
        await consumer.stop()
    return time.perf_counter() - started, own_cpu_seconds() - cpu


async def _seed(ctx: BenchContext, settings: Settings) -> int:
    pipeline, collab = settings.topic("pipeline"), settings.topic("collab")
    await ensure_topics(settings.kafka_bootstrap_servers or "", [pipeline, collab], seed.PARTITIONS)
    accounts = [f"rebuild-account-{i}" for i in range(ACCOUNTS)]
    end = datetime.now(UTC)
    envelopes = [
        env for a in accounts for env in history.envelopes(a, EVENTS // ACCOUNTS, end, seed=11)
    ]
    started = time.monotonic()
    await seed.publish(ctx.infra.bootstrap, pipeline, envelopes, "/sightline/pipeline")
    await seed.register_accounts(ctx.infra.bootstrap, collab, accounts)
    ctx.log(f"rebuild: {len(envelopes)} events published in {time.monotonic() - started:.1f}s")
    return len(envelopes)


async def _settings(ctx: BenchContext, service: str, migrations: Path) -> Settings:
    url = await ctx.database(f"rebuild_{service}")
    engine = make_engine(url, pool_size=1)
    try:
        await migrate(engine, migrations)
    finally:
        await engine.dispose()
    return Settings.model_validate(
        {
            "service": service,
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": ctx.infra.bootstrap,
            "topic_prefix": f"{ctx.infra.topic_prefix}rebuild.",
            "LOG_JSON": False,
        }
    )


async def _replay(
    engine: AsyncEngine, settings: Settings, projection: Projection
) -> tuple[ReplayResult, float]:
    cpu = own_cpu_seconds()
    options = ReplayOptions(drop_previous=True)
    result = await Rebuild(engine, settings, registry, projection, options).run()
    return result, own_cpu_seconds() - cpu


async def _caught_up(settings: Settings, projection: Projection) -> None:
    """Commit the topics' end offsets for the projection's live groups, as a running service
    whose consumers are caught up has them: the swap hands over what lies beyond them."""
    reader = TopicReader(settings.kafka_bootstrap_servers or "", projection.topics)
    await reader.start()
    try:
        ends = await reader.end_offsets()
    finally:
        await reader.stop()
    for group in projection.groups:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.topic_prefix + group.group,
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            mine = {tp: end for tp, end in ends.items() if tp.topic in group.topics}
            consumer.assign(list(mine))
            await consumer.commit(mine)
        finally:
            await consumer.stop()


def _spread(values: list[float]) -> str:
    return f"{min(values):,.0f}–{max(values):,.0f}"


async def run(ctx: BenchContext) -> Section:
    scoring = await _settings(ctx, "scoring", SCORING_MIGRATIONS)
    collab = await _settings(ctx, "collab", COLLAB_MIGRATIONS)
    events = await _seed(ctx, scoring)
    [facts] = scoring_plan(scoring, registry, SystemClock()).projections
    [timeline] = collab_plan(collab, registry, SystemClock()).projections
    # kept open over the rounds: the meter sees the CPU of the backends it measures
    engines = {
        "scoring": make_engine(scoring.database_url or "", pool_size=2),
        "collab": make_engine(collab.database_url or "", pool_size=2),
    }
    try:
        return await _rounds(ctx, scoring, collab, facts, timeline, engines, events)
    finally:
        for engine in engines.values():
            await engine.dispose()


async def _rounds(
    ctx: BenchContext,
    scoring: Settings,
    collab: Settings,
    facts: Projection,
    timeline: Projection,
    engines: dict[str, AsyncEngine],
    events: int,
) -> Section:
    topic = scoring.topic("pipeline")

    for settings, projection in ((scoring, facts), (collab, timeline)):
        await _caught_up(settings, projection)
    ctx.log("rebuild: warm-up round (fills the live tables)")
    await raw_consume(scoring, topic, events)
    await _replay(engines["scoring"], scoring, facts)
    await _replay(engines["collab"], collab, timeline)

    raw: list[float] = []
    score: list[ReplayResult] = []
    time_line: list[ReplayResult] = []
    cpu: dict[str, float] = {"raw": 0.0, "scoring": 0.0, "collab": 0.0}
    cores: dict[str, dict[str, float]] = {}
    for r in range(ROUNDS):
        with _metered(ctx, cores, "raw"):
            seconds, used = await raw_consume(scoring, topic, events)
        raw.append(events / seconds)
        cpu["raw"] += used
        with _metered(ctx, cores, "scoring"):
            result, used = await _replay(engines["scoring"], scoring, facts)
        score.append(result)
        cpu["scoring"] += used
        with _metered(ctx, cores, "collab"):
            result, used = await _replay(engines["collab"], collab, timeline)
        time_line.append(result)
        cpu["collab"] += used
        ctx.log(
            f"rebuild round {r + 1}: raw {raw[-1]:,.0f}/s, scoring {score[-1].events_per_s:,.0f}/s,"
            f" collab {time_line[-1].events_per_s:,.0f}/s"
        )
    return _section(events, raw, score, time_line, cpu, cores)


@contextlib.contextmanager
def _metered(ctx: BenchContext, cores: dict[str, dict[str, float]], what: str) -> Iterator[None]:
    """Cores used by this process with its replay workers, PostgreSQL (with the backends of
    closed connections), the broker and the rest, averaged over the rounds of `what`."""
    pg, broker = ctx.infra.postgres_pid, ctx.infra.broker_pid

    def sample() -> dict[str, float]:
        busy = psutil.cpu_times()
        return {
            "bench": own_cpu_seconds(),
            "postgres": tree_cpu_seconds(pg) if pg else 0.0,
            "broker": tree_cpu_seconds(broker) if broker else 0.0,
            "machine": float(busy.user + busy.system + busy.nice + busy.irq + busy.softirq),
        }

    before, started = sample(), time.monotonic()
    try:
        yield
    finally:
        after, wall = sample(), max(1e-9, time.monotonic() - started)
        used = {k: (after[k] - before[k]) / wall for k in after}
        used["other"] = used["machine"] - used["bench"] - used["postgres"] - used["broker"]
        for key, value in used.items():
            cores.setdefault(what, {}).setdefault(f"{key}_cores", 0.0)
            cores[what][f"{key}_cores"] += value / ROUNDS


def _section(
    events: int,
    raw: list[float],
    score: list[ReplayResult],
    time_line: list[ReplayResult],
    cpu: dict[str, float],
    cores: dict[str, dict[str, float]],
) -> Section:
    scoring_rates = [r.events_per_s for r in score]
    collab_rates = [r.events_per_s for r in time_line]
    ratios = [s / r for s, r in zip(scoring_rates, raw, strict=True)]
    collab_ratios = [c / r for c, r in zip(collab_rates, raw, strict=True)]
    ratio, collab_ratio = statistics.median(ratios), statistics.median(collab_ratios)
    read = score[0].counts.read  # both topics: the pipeline events and the registrations
    per_event = {
        k: round(v / (ROUNDS * (events if k == "raw" else read)) * 1e6, 1) for k, v in cpu.items()
    }
    section = Section(
        {
            "raw_consume_events_per_s": round(statistics.median(raw)),
            "raw_consume_events_per_s_by_round": [round(v) for v in raw],
            "rebuild_events_per_s": round(statistics.median(scoring_rates)),
            "rebuild_events_per_s_by_round": [round(v) for v in scoring_rates],
            "rebuild_vs_raw_ratio": round(ratio, 3),
            "rebuild_vs_raw_ratio_by_round": [round(v, 3) for v in ratios],
            "rebuild_target_met": ratio >= TARGET,
            "collab_rebuild_events_per_s": round(statistics.median(collab_rates)),
            "collab_rebuild_events_per_s_by_round": [round(v) for v in collab_rates],
            "collab_rebuild_vs_raw_ratio": round(collab_ratio, 3),
            "collab_rebuild_vs_raw_ratio_by_round": [round(v, 3) for v in collab_ratios],
            "collab_rebuild_target_met": collab_ratio >= TARGET,
            "rebuild_events": events,
            "rebuild_rounds": ROUNDS,
            "rebuild_locked_s": round(statistics.median(r.locked_s for r in score), 3),
            "collab_rebuild_locked_s": round(statistics.median(r.locked_s for r in time_line), 3),
            "raw_consume_cpu_us_per_event": per_event["raw"],
            "rebuild_cpu_us_per_event": per_event["scoring"],
            "collab_rebuild_cpu_us_per_event": per_event["collab"],
            **{
                f"{prefix}_{k}": round(v, 3)
                for what, prefix in (
                    ("raw", "raw_consume"),
                    ("scoring", "rebuild"),
                    ("collab", "collab_rebuild"),
                )
                for k, v in cores.get(what, {}).items()
            },
        }
    )
    section.rows += [
        (
            f"raw consume, {events:,} events",
            f"{statistics.median(raw):10,.0f} events/s (rounds {_spread(raw)}),"
            f" bench CPU {per_event['raw']} µs/event",
        ),
        (
            "replay scoring (facts), swap included",
            f"{statistics.median(scoring_rates):10,.0f} events/s (rounds {_spread(scoring_rates)}),"
            f" {ratio:.2f} of raw (rounds {min(ratios):.2f}–{max(ratios):.2f}; target ≥ {TARGET}:"
            f" {'met' if ratio >= TARGET else 'NOT met'}), CPU {per_event['scoring']} µs/event,"
            f" locks held {statistics.median(r.locked_s for r in score):.2f} s",
        ),
        (
            "replay collab (timeline), swap included",
            f"{statistics.median(collab_rates):10,.0f} events/s (rounds {_spread(collab_rates)}),"
            f" {collab_ratio:.2f} of raw (rounds {min(collab_ratios):.2f}–{max(collab_ratios):.2f};"
            f" target ≥ {TARGET}: {'met' if collab_ratio >= TARGET else 'NOT met'}),"
            f" CPU {per_event['collab']} µs/event,"
            f" locks held {statistics.median(r.locked_s for r in time_line):.2f} s",
        ),
        *(
            (
                f"  cores during {what}",
                f"bench process and workers {c.get('bench_cores', 0):.2f}, PostgreSQL"
                f" {c.get('postgres_cores', 0):.2f}, broker {c.get('broker_cores', 0):.2f},"
                f" other {c.get('other_cores', 0):.2f}",
            )
            for what, c in cores.items()
        ),
    ]
    section.notes.append(
        "rates run from the start of the replay (schema, twins, reading, indexes, catch-up, swap)"
        " to its end; the raw consumer from its start to its last record"
    )
    for c in cores.values():
        note_noise(section, c, 0.3)
    return section
