"""KPIs for a scope (region, team or rep) and a period, as DESIGN.md defines them.

A deal counts for the scope its owner held in the org directory at the business time of the
event defining the figure. Days are fractional (hours / 24) and reported to one decimal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from statistics import mean, median
from typing import Any

from services.scoring_svc.domain.calendar import Period
from services.scoring_svc.domain.ledger import Deal, Ledger
from services.scoring_svc.domain.model import round_half_up

COMPLETENESS_KINDS = ("needs_interview_notes", "decision_chain_map", "pain_point_ranking")
COMPLETENESS_STAGE = "needs_confirmed"
COMPLETE_FILL = 0.90


@dataclass(frozen=True)
class Scope:
    region: str | None = None
    team: str | None = None
    rep: str | None = None

    def holds(self, owner: str, team: str | None, region: str | None) -> bool:
        return (
            (self.rep is None or self.rep == owner)
            and (self.team is None or self.team == team)
            and (self.region is None or self.region == region)
        )


def days(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86400


def stats(values: list[float]) -> dict[str, Any]:
    return {
        "mean": round_half_up(mean(values), 1) if values else None,
        "median": round_half_up(median(values), 1) if values else None,
        "count": len(values),
    }


def rate(part: int, whole: int) -> float | None:
    return round_half_up(part / whole, 4) if whole else None


def _within(t: datetime, p: Period, now: datetime) -> bool:
    return p.start <= t < p.end and t <= now


def _scoped(ledger: Ledger, scope: Scope, deal: Deal, t: datetime) -> bool:
    return scope.holds(*ledger.owner_position(deal, t))


def lead_response(ledger: Ledger, scope: Scope, p: Period, now: datetime) -> dict[str, Any]:
    waits: list[float] = []
    waiting = 0
    for deal in ledger.deals.values():
        if not _within(deal.opened_at, p, now) or not _scoped(ledger, scope, deal, deal.opened_at):
            continue
        first = min(
            (
                a.at
                for a in deal.activities
                if deal.opened_at <= a.at <= now and ledger.customer_facing(deal, a)
            ),
            default=None,
        )
        if first is None:
            waiting += 1
        else:
            waits.append(days(deal.opened_at, first))
    return {**stats(waits), "no_response_yet": waiting}


def stays(deal: Deal) -> Iterator[tuple[str, datetime, datetime | None, str | None]]:
    """(stage, entered, left or None, where to: the next stage, 'won', 'lost' or None)."""
    for i, (entered, stage) in enumerate(deal.stages):
        if i + 1 < len(deal.stages):
            yield stage, entered, deal.stages[i + 1][0], deal.stages[i + 1][1]
        elif deal.close is not None:
            yield stage, entered, deal.close.at, "won" if deal.close.won else "lost"
        else:
            yield stage, entered, None, None


def requirement_completeness(
    ledger: Ledger, scope: Scope, p: Period, now: datetime
) -> dict[str, Any]:
    complete = total = 0
    for deal in ledger.deals.values():
        for stage, _, left, to in stays(deal):
            if stage != COMPLETENESS_STAGE or left is None or to in (None, "won", "lost"):
                continue
            if not _within(left, p, now) or not _scoped(ledger, scope, deal, left):
                continue
            total += 1
            best = [deal.best_fill(k, left, inclusive=True) for k in COMPLETENESS_KINDS]
            complete += all(b >= COMPLETE_FILL for b in best)
    return {"rate": rate(complete, total), "complete": complete, "count": total}


def conflicts(ledger: Ledger, scope: Scope, p: Period, now: datetime) -> dict[str, Any]:
    """By the member who made the contact; for a region also as the owning region."""
    made = owned = 0
    for c in ledger.conflicts:
        if not _within(c.contact_at, p, now):
            continue
        pos = ledger.position(c.actor_id, c.contact_at)
        team = pos[1] if pos else None
        if scope.holds(c.actor_id, team, c.contact_region):
            made += 1
        if scope.team is None and scope.rep is None and scope.region in (None, c.owning_region):
            owned += 1
    return {"count": made, "as_owning_region": owned}


def deal_cycle(ledger: Ledger, scope: Scope, p: Period, now: datetime) -> dict[str, Any]:
    cycles = [
        days(d.opened_at, d.close.at)
        for d in ledger.deals.values()
        if d.close is not None
        and d.close.won
        and _within(d.close.at, p, now)
        and _scoped(ledger, scope, d, d.close.at)
    ]
    return stats(cycles)


def win_rate(ledger: Ledger, scope: Scope, p: Period, now: datetime) -> dict[str, Any]:
    won = lost = 0
    for d in ledger.deals.values():
        if d.close is None or not _within(d.close.at, p, now):
            continue
        if _scoped(ledger, scope, d, d.close.at):
            won += d.close.won
            lost += not d.close.won
    return {"rate": rate(won, won + lost), "won": won, "lost": lost, "count": won + lost}


def stage_dwell(ledger: Ledger, scope: Scope, p: Period, now: datetime) -> dict[str, Any]:
    per: dict[str, list[float]] = {s: [] for s in ledger.stages(now)}
    for deal in ledger.deals.values():
        for stage, entered, left, _ in stays(deal):
            if left is not None and _within(left, p, now) and _scoped(ledger, scope, deal, left):
                per.setdefault(stage, []).append(days(entered, left))
    return {
        s: {
            "median_days": round_half_up(median(v), 1) if v else None,
            "count": len(v),
        }
        for s, v in per.items()
    }


def stage_conversion(ledger: Ledger, scope: Scope, p: Period, now: datetime) -> dict[str, Any]:
    order = ledger.stages(now)
    nexts = {s: (order[i + 1] if i + 1 < len(order) else "won") for i, s in enumerate(order)}
    counts: dict[str, list[int]] = {s: [0, 0] for s in order}
    for deal in ledger.deals.values():
        for stage, entered, _, _ in stays(deal):
            if not _within(entered, p, now) or not _scoped(ledger, scope, deal, entered):
                continue
            cell = counts.setdefault(stage, [0, 0])
            cell[1] += 1
            cell[0] += _reached(deal, entered, nexts.get(stage), now)
    return {
        s: {"next": nexts.get(s), "rate": rate(c, n), "converted": c, "count": n}
        for s, (c, n) in counts.items()
    }


def _reached(deal: Deal, since: datetime, target: str | None, now: datetime) -> bool:
    if target == "won":
        return deal.close is not None and deal.close.won and since <= deal.close.at <= now
    return any(s == target and since <= t <= now for t, s in deal.stages)


def kpis(ledger: Ledger, scope: Scope, p: Period, now: datetime) -> dict[str, Any]:
    return {
        "lead_response_days": lead_response(ledger, scope, p, now),
        "requirement_confirmation_completeness": requirement_completeness(ledger, scope, p, now),
        "cross_region_conflicts": conflicts(ledger, scope, p, now),
        "deal_cycle_days": deal_cycle(ledger, scope, p, now),
        "win_rate": win_rate(ledger, scope, p, now),
        "stage_dwell": stage_dwell(ledger, scope, p, now),
        "stage_conversion": stage_conversion(ledger, scope, p, now),
    }
