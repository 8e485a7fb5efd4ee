"""The run as tables: the load, the faults, and the checks with what each found wrong."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from chaos.checks import Check
from chaos.client import Command
from chaos.faults import FaultRecord


def print_report(
    console: Console,
    commands: list[Command],
    faults: list[FaultRecord],
    checks: list[Check],
    settle: tuple[float, bool],
) -> None:
    load = Table(title="Commands")
    for column in ("kind", "sent", "2xx", "4xx", "unanswered", "retried", "statuses"):
        load.add_column(column, justify="left" if column in ("kind", "statuses") else "right")
    for kind in sorted({c.kind for c in commands}):
        mine = [c for c in commands if c.kind == kind]
        statuses = Counter(str(c.status) for c in mine)
        load.add_row(
            kind,
            str(len(mine)),
            str(sum(c.succeeded for c in mine)),
            str(sum(c.refused for c in mine)),
            str(sum(c.status is None for c in mine)),
            str(sum(c.retried for c in mine)),
            " ".join(f"{s}×{n}" for s, n in sorted(statuses.items())),
        )
    console.print(load)

    table = Table(title="Faults")
    for column in ("fault", "recovered in", "problems", "notes"):
        table.add_column(column)
    for f in faults:
        recovered = "-" if f.recovered_s is None else f"{f.recovered_s:.1f}s"
        table.add_row(f.name, recovered, "; ".join(f.problems) or "-", "; ".join(f.notes) or "-")
    console.print(table)
    seconds, reached = settle
    state = "empty outbox and no lag" if reached else "NOT reached (timeout)"
    console.print(f"Settled after {seconds:.1f}s: {state}")

    verdict = Table(title="Chaos checks")
    for column in ("check", "expected", "found", "result"):
        verdict.add_column(column)
    for check in checks:
        result = "[green]PASS[/green]" if check.ok else "[red]FAIL[/red]"
        verdict.add_row(check.name, check.expected, check.found, result)
    console.print(verdict)
    for check in checks:
        if not check.ok:
            console.print(f"[red]FAIL[/red] {check.name}:")
            for detail in check.details:
                console.print(f"    {detail}", markup=False)
    failed = sum(not c.ok for c in checks)
    if failed:
        console.print(f"[red]{failed} of {len(checks)} checks found discrepancies[/red]")
    else:
        console.print(f"[green]all {len(checks)} checks passed[/green]")
