"""What `sightline demo` shows on the terminal: progress bars, the plan's KPIs, the outcome."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from shared.demo.cross_region import MAIL_SYNC
from shared.demo.driver import Report
from shared.demo.kpis import PlanKpis
from shared.demo.org import IMPORTER
from shared.demo.plan import Plan

Sign = Callable[[str, str, str, str], str]  # sub, role, region, team -> bearer token


def token_factory(plan: Plan, sign: Sign) -> Callable[[str], str]:
    """The importer acts as each member (its `sub`, region and team); the mail sync as a partner."""

    @cache
    def token_for(actor: str) -> str:
        if actor == MAIL_SYNC:
            return sign(MAIL_SYNC, "partner", "hq", "hq")
        member = plan.members.get(actor)
        if actor == IMPORTER or member is None:
            return sign(IMPORTER, "importer", "hq", "hq")
        return sign(member.member_id, "importer", member.region, member.team)

    return token_for


class RichProgress:
    """An overall bar and one bar per phase."""

    def __init__(self, total: int, console: Console) -> None:
        self.bars = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.total = self.bars.add_task("all commands", total=total)
        self.current: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def phase(self, name: str, total: int) -> None:
        self.current = self.bars.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        self.bars.advance(self.total, n)
        if self.current is not None:
            self.bars.advance(self.current, n)


def summary(plan: Plan, kpis: PlanKpis, profile: str) -> Table:
    table = Table(title=f"demo plan ({profile}): {plan.start:%Y-%m-%d} → {plan.now:%Y-%m-%d}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    roles = [m.role for m in plan.members.values()]
    table.add_row("regions / teams", f"{len({m.region for m in plan.members.values()})} / "
                  f"{len({m.team for m in plan.members.values()})}")  # fmt: skip
    table.add_row("reps / supervisors / regional managers",
                  f"{roles.count('rep')} / {roles.count('supervisor')} / "
                  f"{roles.count('regional_manager')}")  # fmt: skip
    table.add_row("accounts (in groups)",
                  f"{len(plan.accounts)} ({sum(1 for a in plan.accounts if a.group_id)})")  # fmt: skip
    table.add_row("commands", str(len(plan.commands)))
    for name, value in kpis.rows():
        table.add_row(name, value)
    return table


def outcome(report: Report) -> Table:
    table = Table(title="played")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("answers", str(report.sent))
    for status, n in sorted(report.statuses.items()):
        table.add_row(f"  HTTP {status}", str(n))
    table.add_row("replayed (answered before: a rerun)", str(report.replayed))
    table.add_row("retries (transient, account not yet known)", str(report.retries))
    table.add_row("5xx seen (retried)", str(report.server_errors))
    table.add_row("unexpected answers", str(report.unexpected))
    table.add_row("skipped (what they act on failed)", str(report.skipped))
    return table
