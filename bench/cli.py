"""Orchestration of one run: infrastructure, sections, report, and cleanup on any exit."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from bench import sections
from bench.config import RESULTS_DIR, BenchConfig, machine_info
from bench.context import BenchContext, Section
from bench.infra import Infrastructure, start_infrastructure
from bench.procs import REPO_ROOT
from bench.report import merge_write, table


def _parse(argv: list[str] | None) -> tuple[BenchConfig, list[ModuleType], Path]:
    d = BenchConfig()
    known = sections.by_name()
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("sections", nargs="*", help=f"of {', '.join(known)}; default: all, in order")
    p.add_argument("--opportunities", type=int, default=d.opportunities)
    p.add_argument("--concurrency", type=int, default=d.concurrency)
    p.add_argument("--warmup", type=float, default=d.warmup_s, help="seconds")
    p.add_argument("--duration", type=float, default=d.duration_s, help="seconds per target")
    p.add_argument("--rounds", type=int, default=d.rounds, help="alternations per target")
    p.add_argument("--delivery-rate", type=float, default=d.delivery_rate, help="commands/s")
    p.add_argument("--delivery-duration", type=float, default=d.delivery_duration_s)
    p.add_argument("--timeline-requests", type=int, default=d.timeline_requests)
    p.add_argument("--timeline-concurrency", type=int, default=d.timeline_concurrency)
    p.add_argument(
        "--timeline-seed",
        choices=("auto", "kafka", "copy"),
        default=d.timeline_seed,
        help="how the 10k/100k timelines are built (auto: kafka when it takes <= 60 s)",
    )
    p.add_argument("--propagation-rate", type=float, default=d.propagation_rate)
    p.add_argument("--propagation-duration", type=float, default=d.propagation_duration_s)
    p.add_argument("--propagation-poll-ms", type=float, default=d.propagation_poll_ms)
    p.add_argument(
        "--roles",
        choices=("split", "all"),
        default=d.roles,
        help="split: each service as an api and a worker process (as `sightline up` runs "
        "them); all: one process doing both (the shape before they were split)",
    )
    p.add_argument("--apply-events", type=int, default=d.apply_events)
    p.add_argument("--profile-dir", type=Path, help="py-spy the services into this directory")
    p.add_argument("--output", type=Path, default=REPO_ROOT / RESULTS_DIR / "latest.json")
    args = p.parse_args(argv)
    unknown = [name for name in args.sections if name not in known]
    if unknown:
        p.error(f"unknown sections: {', '.join(unknown)} (known: {', '.join(known)})")
    config = BenchConfig(
        opportunities=args.opportunities,
        concurrency=args.concurrency,
        warmup_s=args.warmup,
        duration_s=args.duration,
        rounds=max(1, args.rounds),
        delivery_rate=args.delivery_rate,
        delivery_duration_s=args.delivery_duration,
        timeline_requests=max(1, args.timeline_requests),
        timeline_concurrency=max(1, args.timeline_concurrency),
        timeline_seed=args.timeline_seed,
        apply_events=args.apply_events,
        propagation_rate=args.propagation_rate,
        propagation_duration_s=args.propagation_duration,
        propagation_poll_ms=max(1.0, args.propagation_poll_ms),
        profile_dir=args.profile_dir.resolve() if args.profile_dir else None,
        roles=args.roles,
    )
    chosen = [known[name] for name in args.sections] or list(sections.ALL)
    return config, chosen, args.output


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # SIGTERM/SIGHUP take the same way out as Ctrl-C: every `finally` and ExitStack runs
    raise KeyboardInterrupt(f"signal {signum}")


async def _run_sections(
    ctx: BenchContext, chosen: list[ModuleType]
) -> list[tuple[str, Section | None, str | None]]:
    done: list[tuple[str, Section | None, str | None]] = []
    for module in chosen:
        _log(f"section {module.NAME}: {module.TITLE}")
        try:
            done.append((module.NAME, await module.run(ctx), None))
        except Exception as exc:  # report it and go on with the other sections
            _log(f"section {module.NAME} failed:\n{traceback.format_exc()}")
            done.append((module.NAME, None, f"{type(exc).__name__}: {exc}"))
    return done


def _results(
    config: BenchConfig,
    infra: Infrastructure,
    done: list[tuple[str, Section | None, str | None]],
    started: datetime,
    machine: dict[str, Any],
) -> dict[str, Any]:
    finished = datetime.now(UTC).isoformat()
    updates: dict[str, Any] = {
        "machine": machine,
        "run": {
            "started_at": started.isoformat(),
            "finished_at": finished,
            "postgres": infra.postgres,
            "kafka": infra.kafka,
            "config": config.describe(),
            "load_generator": "raw asyncio HTTP/1.1 keep-alive client in the bench process, "
            "on the same cores as the servers (same harness for every target)",
        },
        "sections": {},
    }
    for name, section, error in done:
        updates["sections"][name] = {"finished_at": finished, "error": error}
        if section is not None:
            updates.update(section.metrics)
    return updates


def main(argv: list[str] | None = None) -> int:
    config, chosen, output = _parse(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    started = datetime.now(UTC)
    machine = machine_info()
    workdir = Path(tempfile.mkdtemp(prefix="sightline-bench-"))
    log_dir = output.parent / "logs"  # the servers' logs of the last run, kept for diagnosis
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    try:
        with ExitStack() as stack:
            infra = start_infrastructure(stack, workdir, log_dir, _log)
            ctx = BenchContext(config, infra, log_dir, stack, _log)
            done = asyncio.run(_run_sections(ctx, chosen))
            _log("stopping the services and the infrastructure")
        title = f"Sightline bench — {machine['cpu_count']} CPUs, Python {machine['python_version']}"
        print(table(title, done))
        merge_write(output, _results(config, infra, done, started, machine))
        print(f"\nresults merged into {output}")
        return 1 if any(error for _, _, error in done) else 0
    except KeyboardInterrupt:
        _log("interrupted; everything started was stopped")
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
