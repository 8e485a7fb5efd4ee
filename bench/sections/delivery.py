"""Delivery latency: from an event's commit to an already-polling Kafka consumer, at a fixed rate.

The pipeline runs as `sightline up` runs it: commands go to its api process, the outbox relay
publishes from its worker process (woken by the store's NOTIFY), so the command load does
not share an event loop with delivery.

Commit time is taken from the CloudEvent's `ce_recordedat` (the store's recorded_at, set
just before the transaction commits, so the figure slightly overstates the latency). Each
command carries its own X-Correlation-Id, which comes back as `ce_correlationid`; the
client's answer time (after the commit) gives the lower bound of the same interval.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.context import BenchContext, Section
from bench.httpload import Sent, build_request, open_loop
from bench.report import fmt_latency, note_failures, note_noise
from bench.sections.commands import ACTIVITY, HOST, NOISY_CORES
from bench.stats import rounded, summarize

NAME = "delivery"
TITLE = "Delivery latency, commit -> consumer"
TARGET_P99_MS = 50.0
TOPIC_WAIT_S = 30.0
ONE_PROCESS = "one process"


@dataclass(frozen=True)
class Received:
    received_at: float
    recorded_at: float
    #: the producer's CreateTime: when the relay handed the event to the Kafka client
    produced_at: float | None
    ce_type: str


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    deadline = time.monotonic() + TOPIC_WAIT_S
    while time.monotonic() < deadline:
        found = consumer.partitions_for_topic(topic)
        if found:
            return sorted(found)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"topic {topic} did not appear within {TOPIC_WAIT_S}s")


async def _consume(consumer: AIOKafkaConsumer, prefix: str, into: dict[str, Received]) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=100)
        now = time.time()
        for messages in batches.values():
            for msg in messages:
                headers = {k: v.decode() for k, v in msg.headers}
                cid = headers.get("ce_correlationid", "")
                if not cid.startswith(prefix) or cid in into:
                    continue
                produced = msg.timestamp / 1000.0 if msg.timestamp and msg.timestamp > 0 else None
                into[cid] = Received(
                    now,
                    datetime.fromisoformat(headers["ce_recordedat"]).timestamp(),
                    produced,
                    headers.get("ce_type", ""),
                )


async def _await_all(expected: set[str], received: dict[str, Received], grace_s: float) -> None:
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and not expected <= received.keys():
        await asyncio.sleep(0.05)


def _ms(values: list[float]) -> dict[str, float | None]:
    s = summarize([v * 1000.0 for v in values])
    return {
        "p50": rounded(s.p50),
        "p90": rounded(s.p90),
        "p99": rounded(s.p99),
        "max": rounded(s.max),
    }


async def run(ctx: BenchContext) -> Section:
    cfg = ctx.config
    pipeline = await ctx.pipeline()
    worker = ctx.worker("pipeline")
    ids = await ctx.opportunities()
    topic = ctx.infra.topic("pipeline")
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    auth = {"Authorization": f"Bearer {ctx.token}"}
    body = json.dumps(ACTIVITY).encode()

    def command(i: int) -> bytes:
        path = f"/opportunities/{ids[i % len(ids)]}/activities"
        headers = {**auth, "X-Correlation-Id": f"{prefix}{i}"}
        return build_request(HOST, pipeline.port, "POST", path, body, headers)

    await ctx.quiesce()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=ctx.infra.bootstrap,
        client_id="sightline-bench-delivery",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=10,
    )
    received: dict[str, Received] = {}
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await _partitions(consumer, topic)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:  # resolves the end offsets now, before anything is produced
            await consumer.position(tp)
        task = asyncio.create_task(_consume(consumer, prefix, received))
        await asyncio.sleep(1.0)  # the fetcher is polling every partition
        ctx.log(
            f"delivery: {cfg.delivery_rate:g} commands/s for {cfg.delivery_duration_s:g}s, "
            f"consumer on {len(tps)} partitions of {topic}"
        )
        meter = ctx.cpu_meter(pipeline.pid)
        meter.start()
        sent = await open_loop(
            HOST, pipeline.port, command, cfg.delivery_rate, cfg.delivery_duration_s
        )
        cpu = meter.stop()
        ok = [s for s in sent if s.answer is not None and 200 <= s.answer.status < 300]
        await _await_all({f"{prefix}{s.index}" for s in ok}, received, cfg.delivery_grace_s)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await consumer.stop()
    roles = "api + worker" if worker is not None else ONE_PROCESS
    return _report(cfg.delivery_rate, prefix, sent, ok, received, cpu, roles)


def _report(
    rate: float,
    prefix: str,
    sent: list[Sent],
    ok: list[Sent],
    received: dict[str, Received],
    cpu: dict[str, float],
    roles: str,
) -> Section:
    matched = [(s, received[f"{prefix}{s.index}"]) for s in ok if f"{prefix}{s.index}" in received]
    commit = [r.received_at - r.recorded_at for _, r in matched]
    after_answer = [r.received_at - s.answered_at for s, r in matched]
    from_send = [r.received_at - s.sent_at for s, r in matched]
    relay = [r.produced_at - r.recorded_at for _, r in matched if r.produced_at]
    broker = [r.received_at - r.produced_at for _, r in matched if r.produced_at]
    answer = [s.answered_at - s.sent_at for s in ok]
    # recorded_at precedes the commit, the answer follows it: the first must not be later
    inverted = sum(1 for s, r in matched if r.recorded_at > s.answered_at)
    lat = _ms(commit)
    errors = len(sent) - len(ok)
    per_command = rounded(1000.0 * cpu.get("service_cores", 0.0) / rate, 3)
    relay_cpu = rounded(1000.0 * cpu.get("pipeline_worker_cores", 0.0) / rate, 3)
    metrics: dict[str, Any] = {
        "delivery_p50_ms": lat["p50"],
        "delivery_p90_ms": lat["p90"],
        "delivery_p99_ms": lat["p99"],
        "delivery_max_ms": lat["max"],
        "delivery_sent": len(sent),
        "delivery_accepted": len(ok),
        "delivery_received": len(matched),
        "delivery_command_errors": errors,
        "delivery_rate_per_s": rate,
        "delivery_target_p99_ms": TARGET_P99_MS,
        "delivery_target_met": lat["p99"] is not None and lat["p99"] <= TARGET_P99_MS,
        "delivery_after_answer_ms": _ms(after_answer),
        "delivery_from_send_ms": _ms(from_send),
        "delivery_commit_to_produce_ms": _ms(relay),
        "delivery_produce_to_consume_ms": _ms(broker),
        "delivery_command_latency_ms": _ms(answer),
        "delivery_recorded_after_answer": inverted,
        "delivery_cpu_cores": cpu,
        "delivery_service_cpu_ms_per_command": per_command,
        "delivery_worker_cpu_ms_per_command": relay_cpu,
        "delivery_pipeline_roles": roles,
    }
    section = Section(metrics)
    verdict = "met" if metrics["delivery_target_met"] else "MISSED"
    section.rows += [
        (
            f"delivery at {rate:g}/s (recorded_at -> consumer; {roles})",
            f"p50 {lat['p50']} ms  p99 {lat['p99']} ms  (target p99 <= {TARGET_P99_MS:g}: "
            f"{verdict})",
        ),
        ("  received / accepted / sent", f"{len(matched)} / {len(ok)} / {len(sent)}"),
        ("  answer -> consumer (lower bound)", fmt_latency(metrics["delivery_after_answer_ms"])),
        (
            "  recorded_at -> produced (relay)",
            fmt_latency(metrics["delivery_commit_to_produce_ms"]),
        ),
        ("  produced -> consumer (broker)", fmt_latency(metrics["delivery_produce_to_consume_ms"])),
        ("  command answer latency", fmt_latency(metrics["delivery_command_latency_ms"])),
        ("  cpu cores", ", ".join(f"{k} {v}" for k, v in cpu.items())),
        (
            "  CPU per command at this rate",
            f"api {per_command} ms (the command), worker {relay_cpu} ms (the relay)"
            if roles != ONE_PROCESS
            else f"service {per_command} ms (command + relay)",
        ),
    ]
    note_noise(section, cpu, NOISY_CORES)
    note_failures(section, sent, "delivery commands")
    return section
