"""Timeline read latency of collab_svc for accounts with 1,000, 10,000 and 100,000 entries.

Three accounts are registered through collab's API. The smallest one's history is published
on `pipeline.events` as CloudEvents and the collab consumer builds its timeline, which
measures the consumer's rate; the two long ones go the same way when that rate makes it a
minute at most, else (the usual case) their rows are copied into `timeline_entries` as the
consumer would write them (made by the consumer's own `entry_for`; the consumer-built rows of
the first account are compared with the copied form to prove it). Reads are then measured with
the closed-loop client at low concurrency, alternating sizes and variants in rounds: the
default page (`GET /accounts/{id}/timeline`, newest 50) and a filtered one
(`?kind=activity&order=desc&limit=3`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench import history, seed
from bench.context import BenchContext, Section
from bench.httpload import LoadResult, build_request, counted_loop, merge
from bench.report import note_noise
from bench.sections.commands import HOST, NOISY_CORES
from bench.stats import rounded
from shared.auth import issue_token
from shared.settings import DEV_JWT_SECRET

NAME = "timeline"
TITLE = "Timeline read latency by timeline length (collab)"
SIZES = (("1k", 1_000), ("10k", 10_000), ("100k", 100_000))
VARIANTS = (("all", ""), ("filtered", "?kind=activity&order=desc&limit=3"))
PAGE = {"all": 50, "filtered": 3}
ROUNDS = 2
#: unmeasured requests before each measured run (per size, variant and round)
WARMUP = 50
#: the consumer may build the long timelines when it needs at most this long
CONSUMER_BUDGET_S = 60.0
COUNT = "SELECT count(*) FROM timeline_entries WHERE account_id = $1"
ROWS = (
    "SELECT event_id, account_id, group_id, kind, region, actor, occurred_at, data::text AS data"
    " FROM timeline_entries WHERE account_id = $1"
)
SPAN = (
    "SELECT max(i.processed_at) - min(i.processed_at) FROM inbox i"
    " JOIN timeline_entries t ON t.event_id = i.event_id AND i.consumer = 'collab-timeline'"
    " WHERE t.account_id = $1"
)
# the statements adapters.timeline.Timeline.page issues for the two variants (for their plans)
PLANS = {
    "all": "SELECT * FROM timeline_entries WHERE account_id = $1"
    " ORDER BY occurred_at DESC, seq DESC LIMIT 51",
    "filtered": "SELECT * FROM timeline_entries WHERE account_id = $1 AND kind = 'activity'"
    " ORDER BY occurred_at DESC, seq DESC LIMIT 4",
}


async def _wait_count(conn: asyncpg.Connection, account: str, n: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while (have := await conn.fetchval(COUNT, account)) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{account}: {have} of {n} timeline entries after {timeout_s:g}s")
        await asyncio.sleep(0.1)


def _mismatches(rows: list[asyncpg.Record], expected: dict[uuid.UUID, tuple[Any, ...]]) -> int:
    """Consumer-written rows that differ from the copied form (missing ones count too)."""
    bad = abs(len(expected) - len(rows))
    for r in rows:
        want = expected.get(r["event_id"])
        got = (
            r["event_id"],
            r["account_id"],
            r["group_id"],
            r["kind"],
            r["region"],
            r["actor"],
            r["occurred_at"],
        )
        if want is None or got != want[:7] or json.loads(r["data"]) != json.loads(want[7]):
            bad += 1
    return bad


class Seeder:
    """Builds the three timelines; records how, how fast and whether the forms agree."""

    def __init__(self, ctx: BenchContext, conn: asyncpg.Connection, accounts: dict[str, str]):
        self.ctx = ctx
        self.conn = conn
        self.accounts = accounts
        self.end = datetime.now(UTC) - timedelta(minutes=1)
        #: newest event id per account and variant, to check the pages read
        self.newest: dict[tuple[str, str], str] = {}
        self.info: dict[str, Any] = {}

    def _envelopes(self, label: str, n: int) -> list[Any]:
        envs = list(history.envelopes(self.accounts[label], n, self.end))
        self.newest[(label, "all")] = str(envs[-1].event_id)
        newest_activity = next(e for e in reversed(envs) if e.name == "ActivityLogged")
        self.newest[(label, "filtered")] = str(newest_activity.event_id)
        return envs

    async def _through_consumer(self, label: str, n: int, timeout_s: float) -> tuple[float, float]:
        """Publish `label`'s history, wait for its timeline; (wall seconds, consumer rate/s)."""
        envs = self._envelopes(label, n)
        topic = self.ctx.infra.topic("pipeline")
        started = time.monotonic()
        await seed.publish(self.ctx.infra.bootstrap, topic, envs, "/sightline/pipeline")
        await _wait_count(self.conn, self.accounts[label], n, timeout_s)
        took = time.monotonic() - started
        # the consumer's own pace, from its first to its last transaction (no group join)
        span = await self.conn.fetchval(SPAN, self.accounts[label])
        rate = (n - 1) / span.total_seconds() if span and span.total_seconds() > 0 else n / took
        if label == SIZES[0][0]:
            group = await self._group(label)
            expected = {e.event_id: history.row(e, group) for e in envs}
            rows = await self.conn.fetch(ROWS, self.accounts[label])
            self.info["timeline_seed_copy_mismatches"] = _mismatches(rows, expected)
        return took, rate

    async def _copy(self, label: str, n: int) -> float:
        started = time.monotonic()
        group = await self._group(label)
        records = [history.row(e, group) for e in self._envelopes(label, n)]
        await self.conn.copy_records_to_table(
            "timeline_entries", records=records, columns=history.COLUMNS
        )
        return time.monotonic() - started

    async def _group(self, label: str) -> str | None:
        sql = "SELECT group_id FROM accounts WHERE account_id = $1"
        group: str | None = await self.conn.fetchval(sql, self.accounts[label])
        return group

    async def run(self) -> None:
        cfg, log = self.ctx.config, self.ctx.log
        (first, n_first), rest = SIZES[0], SIZES[1:]
        took, rate = await self._through_consumer(first, n_first, 120.0)
        remaining = sum(n for _, n in rest)
        projected = remaining / rate
        mode = cfg.timeline_seed
        if mode == "auto":
            mode = "kafka" if projected <= CONSUMER_BUDGET_S else "copy"
        log(
            f"timeline: the consumer built {n_first} entries in {took:.1f}s (group joins "
            f"included; {rate:.0f}/s once running); "
            f"{remaining} more would take ~{projected:.0f}s: the rest by {mode}"
        )
        self.info.update(
            {
                "timeline_seed_consumer_events": n_first,
                "timeline_seed_consumer_s": rounded(took),
                "timeline_seed_consumer_events_per_s": rounded(rate, 1),
                "timeline_seed_projected_consumer_s": rounded(projected, 1),
                "timeline_seed_method": {first: "kafka"},
            }
        )
        for label, n in rest:
            if mode == "kafka":
                spent, _ = await self._through_consumer(label, n, max(120.0, 3 * projected))
            else:
                spent = await self._copy(label, n)
            self.info["timeline_seed_method"][label] = mode
            self.info[f"timeline_seed_{label}_s"] = rounded(spent)
            log(f"timeline: {n} entries for {self.accounts[label]} by {mode} in {spent:.1f}s")
        started = time.monotonic()
        # what autovacuum would have done to a table that grew this way
        await self.conn.execute("VACUUM (ANALYZE) timeline_entries")
        self.info["timeline_seed_vacuum_analyze_s"] = rounded(time.monotonic() - started)


async def _plans(conn: asyncpg.Connection, account: str) -> dict[str, str]:
    out = {}
    for variant, sql in PLANS.items():
        lines = [r[0].strip() for r in await conn.fetch(f"EXPLAIN (COSTS OFF) {sql}", account)]
        out[variant] = " / ".join(lines[:3])
    return out


async def _check_pages(
    base_url: str, token: str, accounts: dict[str, str], seeder: Seeder
) -> dict[str, int]:
    """Each read answers the page it should (newest first, right length); returns body sizes."""
    sizes = {}
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:
        for label, _ in SIZES:
            for variant, query in VARIANTS:
                response = await client.get(f"/accounts/{accounts[label]}/timeline{query}")
                if response.status_code != 200:
                    raise RuntimeError(
                        f"timeline {label}/{variant}: {response.status_code} {response.text[:300]}"
                    )
                items = response.json()["items"]
                kinds = {i["kind"] for i in items}
                newest = items[0]["event_id"] if items else None
                if (
                    len(items) != PAGE[variant]
                    or newest != seeder.newest[(label, variant)]
                    or (variant == "filtered" and kinds != {"activity"})
                ):
                    raise RuntimeError(
                        f"timeline {label}/{variant}: unexpected page ({len(items)} items, "
                        f"kinds {sorted(kinds)}, newest {newest})"
                    )
                sizes[f"{label}/{variant}"] = len(response.content)
    return sizes


def _always(request: bytes) -> Callable[[int], bytes]:
    return lambda _i: request


async def run(ctx: BenchContext) -> Section:
    cfg = ctx.config
    collab = await ctx.collab()
    catchup, backlog = await ctx.collab_caught_up()
    tag = uuid.uuid4().hex[:6]
    accounts = {label: f"bench-timeline-{label}-{tag}" for label, _ in SIZES}
    await seed.collab_accounts(collab.base_url, ctx.admin_token, list(accounts.values()))
    conn = await asyncpg.connect(ctx.collab_dsn)
    try:
        seeder = Seeder(ctx, conn, accounts)
        await seeder.run()
        await ctx.collab_caught_up()
        plans = await _plans(conn, accounts[SIZES[-1][0]])
        table_rows = int(await conn.fetchval("SELECT count(*) FROM timeline_entries"))
    finally:
        await conn.close()

    # a rep of a third region: every member of every region reads the whole timeline
    reader = issue_token(DEV_JWT_SECRET, sub="bench-north", role="rep", region="north", team="n-1")
    body_bytes = await _check_pages(collab.base_url, reader, accounts, seeder)
    auth = {"Authorization": f"Bearer {reader}"}
    raw = {
        (label, variant): build_request(
            HOST, collab.port, "GET", f"/accounts/{accounts[label]}/timeline{query}", b"", auth
        )
        for label, _ in SIZES
        for variant, query in VARIANTS
    }
    await ctx.quiesce()
    per_round = max(1, cfg.timeline_requests // ROUNDS)
    ctx.log(
        f"timeline: {cfg.timeline_concurrency} connections, {ROUNDS} rounds x {per_round} "
        f"requests (+{WARMUP} warm-up) per size and variant"
    )
    runs: dict[tuple[str, str], list[LoadResult]] = {key: [] for key in raw}
    meter = ctx.cpu_meter(collab.pid)
    meter.start()
    for _ in range(ROUNDS):
        for key, request in raw.items():
            result = await counted_loop(
                "/".join(key),
                HOST,
                collab.port,
                _always(request),
                cfg.timeline_concurrency,
                WARMUP,
                per_round,
            )
            runs[key].append(result)
    cpu = meter.stop()
    merged = {key: merge(results) for key, results in runs.items()}
    seeder.info["timeline_response_bytes"] = body_bytes
    seeder.info["timeline_collab_catchup_s"] = rounded(catchup)
    seeder.info["timeline_collab_backlog_events"] = backlog
    return _report(ctx, merged, seeder.info, plans, table_rows, cpu)


def _report(
    ctx: BenchContext,
    merged: dict[tuple[str, str], LoadResult],
    seeding: dict[str, Any],
    plans: dict[str, str],
    table_rows: int,
    cpu: dict[str, float],
) -> Section:
    cfg = ctx.config
    metrics: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    for (label, variant), res in merged.items():
        lat = res.latency()
        infix = "" if variant == "all" else "filtered_"
        metrics[f"timeline_{infix}p50_ms_{label}"] = rounded(lat.p50)
        metrics[f"timeline_{infix}p99_ms_{label}"] = rounded(lat.p99)
        detail[f"{label}/{variant}"] = {
            "p50": rounded(lat.p50),
            "p90": rounded(lat.p90),
            "p99": rounded(lat.p99),
            "max": rounded(lat.max),
            "mean": rounded(lat.mean),
            "ok": res.ok,
            "errors": res.error_count,
            "rps": rounded(res.rps, 1),
            "first_error": res.first_error,
        }
    small, large = SIZES[0][0], SIZES[-1][0]
    for infix in ("", "filtered_"):
        for q in ("p50", "p99"):
            low = metrics[f"timeline_{infix}{q}_ms_{small}"]
            high = metrics[f"timeline_{infix}{q}_ms_{large}"]
            metrics[f"timeline_{infix}{q}_growth_{small}_to_{large}"] = (
                rounded(high / low, 3) if low and high else None
            )
    metrics.update(
        {
            "timeline_detail": detail,
            "timeline_concurrency": cfg.timeline_concurrency,
            "timeline_requests": cfg.timeline_requests,
            "timeline_rounds": ROUNDS,
            "timeline_table_rows": table_rows,
            "timeline_plans_100k": plans,
            "timeline_cpu_cores": cpu,
            **seeding,
        }
    )
    section = Section(metrics)
    for variant, query in VARIANTS:
        infix = "" if variant == "all" else "filtered_"
        section.rows.append((f"GET /accounts/{{id}}/timeline{query or ' (newest 50)'}", ""))
        for label, _ in SIZES:
            d = detail[f"{label}/{variant}"]
            section.rows.append(
                (
                    f"  {label} entries (c={cfg.timeline_concurrency})",
                    f"p50 {d['p50']} ms  p99 {d['p99']} ms  {d['rps']} req/s  errors {d['errors']}",
                )
            )
        growth = metrics[f"timeline_{infix}p99_growth_{small}_to_{large}"]
        median = metrics[f"timeline_{infix}p50_growth_{small}_to_{large}"]
        section.rows.append(
            (f"  growth {small} -> {large}", f"p99 x{growth}, p50 x{median} (goal: near 1)")
        )
    methods = seeding.get("timeline_seed_method", {})
    section.rows += [
        (
            "  seeding",
            ", ".join(f"{k} by {v}" for k, v in methods.items())
            + f"; consumer {seeding.get('timeline_seed_consumer_events_per_s')} events/s",
        ),
        (
            "  collab catch-up before seeding",
            f"{seeding['timeline_collab_backlog_events']} events (both groups) in "
            f"{seeding['timeline_collab_catchup_s']} s",
        ),
        ("  plan at 100k (newest 50)", plans.get("all", "")),
        ("  cpu cores", ", ".join(f"{k} {v}" for k, v in cpu.items())),
    ]
    if seeding.get("timeline_seed_copy_mismatches"):
        section.notes.append(
            f"{seeding['timeline_seed_copy_mismatches']} consumer-built rows differ from the "
            "copied form: the copied timelines may not be what the consumer writes"
        )
    if "copy" in methods.values():
        section.notes.append(
            "the 10k and 100k timelines were copied into timeline_entries (rows made by the "
            "consumer's entry_for), not built by the consumer: see timeline_seed_*"
        )
    note_noise(section, cpu, NOISY_CORES)
    errors = sum(d["errors"] for d in detail.values())
    if errors:
        first = next(d["first_error"] for d in detail.values() if d["first_error"])
        section.notes.append(f"{errors} timeline reads failed; first: {first}")
    return section
