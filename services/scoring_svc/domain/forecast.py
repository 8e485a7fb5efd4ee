"""Forecast inputs: the deals a quarter's forecast covers, stage weights, behaviour features.

Everything is read as of an instant T from a ledger; the backtest hands in a ledger built
from events before T only, so nothing after T can reach a feature or a training label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.scoring_svc.domain import calendar
from services.scoring_svc.domain.calendar import Period
from services.scoring_svc.domain.health import week_scores
from services.scoring_svc.domain.kpis import Scope, days
from services.scoring_svc.domain.ledger import Deal, Ledger
from services.scoring_svc.domain.model import COMPETITIVE_KIND, ScoringModel

DOCUMENTS = (
    "requirement_checklist",
    "needs_interview_notes",
    "decision_chain_map",
    "pain_point_ranking",
)
FEATURES = (
    "stage_index",
    "days_in_stage",
    "days_since_customer_contact",
    "contacts_14d",
    "contacts_28d",
    "requirement_completeness",
    "stakeholder_roles",
    "competitive_plan_filed",
    "objections_raised",
    "objections_resolved",
    "log_amount",
    "owner_health",
    "owner_has_health",
)


def in_quarter(deal: Deal, q: Period) -> bool:
    """The expected close date falls in Q (dates in the organisation's zone)."""
    return q.start.date() <= deal.expected_close < q.end.date()


def covered(ledger: Ledger, scope: Scope, q: Period, t: datetime) -> list[Deal]:
    """Deals open at T whose expected close falls in Q, in the scope of their owner at T."""
    return sorted(
        (
            d
            for d in ledger.deals.values()
            if d.open_at(t) and in_quarter(d, q) and scope.holds(*ledger.owner_position(d, t))
        ),
        key=lambda d: d.opportunity_id,
    )


def stage_probability(ledger: Ledger, deal: Deal, t: datetime, model: ScoringModel) -> float:
    return float(model.stage_probabilities.get(deal.stage_at(t), 0.0))


def expected(amounts: list[Decimal], probabilities: list[float]) -> tuple[float, float, float]:
    """Σ amount × p and a 90% interval from the variance of independent outcomes."""
    total = sum(float(a) * p for a, p in zip(amounts, probabilities, strict=True))
    var = sum(float(a) ** 2 * p * (1 - p) for a, p in zip(amounts, probabilities, strict=True))
    half = 1.645 * math.sqrt(var)
    return total, max(0.0, total - half), total + half


def features(ledger: Ledger, deal: Deal, t: datetime, owner_health: float | None) -> list[float]:
    """The behaviour of one deal as of T (only facts before T)."""
    order = ledger.stages(t)
    stage = deal.stage_at(t)
    contacts = [a.at for a in deal.activities if a.at < t and ledger.customer_facing(deal, a)]
    before = [a for a in deal.activities if a.at < t]
    return [
        float(order.index(stage)) if stage in order else 0.0,
        days(deal.entered_at(t), t),
        days(max(contacts), t) if contacts else days(deal.opened_at, t),
        float(sum(1 for c in contacts if c >= t - timedelta(days=14))),
        float(sum(1 for c in contacts if c >= t - timedelta(days=28))),
        sum(deal.best_fill(k, t) for k in DOCUMENTS) / len(DOCUMENTS),
        float(len(deal.roles_before(t))),
        1.0 if any(a.kind == COMPETITIVE_KIND and a.at < t for a in deal.artifacts) else 0.0,
        float(sum(a.objections_raised for a in before)),
        float(sum(a.objections_resolved for a in before)),
        math.log1p(float(deal.amount)),
        (owner_health if owner_health is not None else 50.0) / 100,
        0.0 if owner_health is None else 1.0,
    ]


class OwnerHealth:
    """The owner's health score as of an instant (the index computed with E = T), cached per T."""

    def __init__(self, ledger: Ledger, model: ScoringModel) -> None:
        self._ledger = ledger
        self._model = model
        self._at: dict[datetime, dict[str, float | None]] = {}

    def __call__(self, deal: Deal, t: datetime) -> float | None:
        if t not in self._at:
            self._at[t] = {r: h.score for r, h in week_scores(self._ledger, self._model, t).items()}
        return self._at[t].get(deal.owner_at(t)[0])


@dataclass(frozen=True)
class Sample:
    opportunity_id: str
    features: list[float]
    won_in_quarter: bool


def training_set(ledger: Ledger, t: datetime, tz: ZoneInfo, health: OwnerHealth) -> list[Sample]:
    """Deals closed before T, each seen as of the first day of its expected close quarter
    (the moment that quarter's forecast is made); label: won within that quarter."""
    out = []
    for deal in sorted(ledger.deals.values(), key=lambda d: d.opportunity_id):
        close = deal.closed_before(t)
        if close is None:
            continue
        q = calendar.quarter_of(
            datetime(deal.expected_close.year, deal.expected_close.month, 1, 12, tzinfo=tz), tz
        )
        if not deal.open_at(q.start):
            continue
        won = close.won and q.start <= close.at < q.end
        out.append(
            Sample(
                deal.opportunity_id,
                features(ledger, deal, q.start, health(deal, q.start)),
                won,
            )
        )
    return out
