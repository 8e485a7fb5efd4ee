"""`python -m chaos [--reduced]`: run the load through the faults, then check and report.

Exit status: 0 all checks passed, 1 a discrepancy, 2 the run could not be made.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

from rich.console import Console

from chaos import faults as f
from chaos.checks import evaluate
from chaos.client import Client
from chaos.config import FULL, REDUCED, ChaosConfig
from chaos.load import drive
from chaos.org import SeedError, seed
from chaos.report import print_report
from chaos.snapshot import settle, take
from chaos.stack import Stack
from shared.runtime.launcher import LaunchError

console = Console(width=160)


def say(message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}", highlight=False)


def schedule(stack: Stack, cfg: ChaosConfig) -> list[Callable[[], Awaitable[f.FaultRecord]]]:
    """The faults in order; each starts only when the one before has recovered."""
    steps: list[Callable[[], Awaitable[f.FaultRecord]]] = [
        partial(f.kill_service, stack, unit, cfg.restart_timeout_s, cfg.ready_timeout_s)
        for unit in stack.units_in(cfg.killed_roles)
    ]
    steps.append(partial(f.kill_broker, stack, cfg.restart_timeout_s, cfg.ready_timeout_s))
    steps.append(
        partial(
            f.restart_postgres, stack, cfg.pg_down_s, cfg.restart_timeout_s, cfg.ready_timeout_s
        )
    )
    steps += [
        partial(f.refuse_connections, stack, svc, cfg.refuse_s, cfg.ready_timeout_s)
        for svc in cfg.refused
    ]
    return steps


async def run(stack: Stack, cfg: ChaosConfig) -> int:
    client = Client(stack, cfg.command_deadline_s)
    try:
        say("seeding the organisation")
        world = await seed(client, stack, cfg.accounts, cfg.transfer_accounts)
        say(f"load at {cfg.rate:g} commands/s")
        stop = asyncio.Event()
        load = asyncio.create_task(drive(client, world, cfg.rate, stop))
        records = []
        await asyncio.sleep(cfg.pause_s)
        for fault in schedule(stack, cfg):
            record = await fault()
            records.append(record)
            outcome = "; ".join(record.problems) or f"recovered in {record.recovered_s}s"
            say(f"{record.name}: {outcome}")
            await asyncio.sleep(cfg.pause_s)
        stop.set()
        failures = await load
    finally:
        await client.close()
    say(f"{len(client.log)} commands sent; settling")
    settled = await settle(stack, cfg.settle_timeout_s)
    snapshot = await take(stack)
    with (stack.workdir / "commands.jsonl").open("w") as out:
        for command in client.log:
            out.write(json.dumps(command.as_record(), default=str) + "\n")
    checks = evaluate(client.log, records, failures, snapshot)
    print_report(console, client.log, records, checks, settled)
    return 0 if all(c.ok for c in checks) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--reduced", action="store_true", help="the CI run (<= 3 minutes)")
    parser.add_argument("--workdir", type=Path, help="keep data and logs here (default: temp)")
    args = parser.parse_args(argv)
    cfg = REDUCED if args.reduced else FULL
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sightline-chaos-"))
    began = time.monotonic()
    stack = Stack(workdir, say, cfg.ready_timeout_s)
    try:
        try:
            stack.start()
        except LaunchError as exc:
            console.print(f"the runtime did not start: {exc}", markup=False)
            return 2
        try:
            code = asyncio.run(run(stack, cfg))
        except SeedError as exc:
            console.print(f"seeding failed: {exc}", markup=False)
            return 2
        except Exception:
            console.print("the run could not be completed:")
            console.print_exception()
            return 2
    finally:
        stack.stop()
        say(f"done in {time.monotonic() - began:.0f}s; logs in {workdir / 'logs'}")
    if args.workdir is None and code == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    return code
