"""The case study's KPIs read from a plan itself, by the definitions the scoring service
follows (DESIGN, "KPIs"), for the whole seeded period: what `/kpis` should report back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from statistics import mean

from shared.demo.plan import Plan


@dataclass(frozen=True)
class PlanKpis:
    lead_response_days: float | None
    completeness: float | None
    conflicts_per_month: float
    deal_cycle_days: float | None
    win_rate: float | None
    deals: int
    won: int
    lost: int

    def rows(self) -> list[tuple[str, str]]:
        def num(v: float | None, fmt: str) -> str:
            return "—" if v is None else format(v, fmt)

        return [
            ("lead response (days, mean)", num(self.lead_response_days, ".1f")),
            ("requirement-confirmation completeness", num(self.completeness, ".0%")),
            ("cross-region conflicts per month", num(self.conflicts_per_month, ".1f")),
            ("deal cycle (days, mean)", num(self.deal_cycle_days, ".1f")),
            ("win rate", num(self.win_rate, ".0%")),
            ("deals opened / won / lost", f"{self.deals} / {self.won} / {self.lost}"),
        ]


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 86400


def _mean(values: list[float]) -> float | None:
    return round(mean(values), 1) if values else None


def plan_kpis(plan: Plan) -> PlanKpis:
    d = plan.deals
    responded = [_days(x.opened_at, x.first_response_at) for x in d if x.first_response_at]
    confirmed = [x.confirmation_complete for x in d if x.confirmed_at]
    cycles = [_days(x.opened_at, x.won_at) for x in d if x.won_at]
    won, lost = sum(1 for x in d if x.won_at), sum(1 for x in d if x.lost_at)
    months = _days(plan.start, plan.now) / (365 / 12)
    return PlanKpis(
        lead_response_days=_mean(responded),
        completeness=sum(confirmed) / len(confirmed) if confirmed else None,
        conflicts_per_month=round(len(plan.conflicts) / months, 1),
        deal_cycle_days=_mean(cycles),
        win_rate=won / (won + lost) if won + lost else None,
        deals=len(d),
        won=won,
        lost=lost,
    )
