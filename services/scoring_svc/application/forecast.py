"""The quarter forecast both ways (stage-weighted, behaviour-based) and its backtest."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from services.scoring_svc.adapters.ml import fit
from services.scoring_svc.domain.calendar import Period
from services.scoring_svc.domain.forecast import (
    OwnerHealth,
    covered,
    expected,
    features,
    stage_probability,
    training_set,
)
from services.scoring_svc.domain.kpis import Scope
from services.scoring_svc.domain.ledger import Ledger
from services.scoring_svc.domain.model import ScoringModel, round_half_up
from shared.events.base import DomainEvent

LEVEL = 0.9


def _figure(total: float, low: float, high: float) -> dict[str, Any]:
    return {
        "amount": round_half_up(total, 2),
        "interval": {"low": round_half_up(low, 2), "high": round_half_up(high, 2), "level": LEVEL},
    }


def forecast_as_of(
    ledger: Ledger, model: ScoringModel, q: Period, scope: Scope, t: datetime, tz: ZoneInfo
) -> dict[str, Any]:
    """Q's forecast made at T from `ledger`, which must hold nothing after T that matters."""
    deals = covered(ledger, scope, q, t)
    amounts = [d.amount for d in deals]
    by_stage = [stage_probability(ledger, d, t, model) for d in deals]
    health = OwnerHealth(ledger, model)
    samples = training_set(ledger, t, tz, health)
    fitted = fit([s.features for s in samples], [s.won_in_quarter for s in samples])
    if isinstance(fitted, str):
        by_behaviour = by_stage
        method = {"model": "stage weights (fallback)", "note": fitted, "trained_on": len(samples)}
    else:
        by_behaviour = fitted.predict([features(ledger, d, t, health(d, t)) for d in deals])
        method = {
            "model": "calibrated logistic regression",
            "note": "P(won within the quarter | behaviour as of T)",
            "trained_on": fitted.samples,
        }
    return {
        "quarter": q.label,
        "as_of": t.isoformat(),
        "stage_weighted": _figure(*expected(amounts, by_stage)),
        "behaviour_based": {**_figure(*expected(amounts, by_behaviour)), **method},
        "deals": [
            {
                "opportunity_id": d.opportunity_id,
                "owner_id": d.owner_at(t)[0],
                "stage": d.stage_at(t),
                "amount": float(d.amount),
                "expected_close_date": d.expected_close.isoformat(),
                "p_stage": round_half_up(ps, 4),
                "p_behaviour": round_half_up(pb, 4),
            }
            for d, ps, pb in zip(deals, by_stage, by_behaviour, strict=True)
        ],
    }


def actual(ledger: Ledger, ids: list[str], q: Period, now: datetime) -> Decimal:
    """The amounts of those same deals won in Q (as known now)."""
    total = Decimal(0)
    for oid in ids:
        close = ledger.deals[oid].close if oid in ledger.deals else None
        if close is not None and close.won and q.start <= close.at < q.end and close.at <= now:
            total += close.amount
    return total


def error(forecast: float, real: Decimal) -> float | None:
    return round_half_up(abs(forecast - float(real)) / float(real), 4) if real else None


def backtest(
    events: list[DomainEvent],
    model: ScoringModel,
    quarters: list[Period],
    scope: Scope,
    now: datetime,
    tz: ZoneInfo,
) -> list[dict[str, Any]]:
    """Each quarter forecast as of its first day from events with business time before it."""
    known = Ledger.build(e for e in events if e.occurred_at <= now)
    out: list[dict[str, Any]] = []
    for q in quarters:
        if q.start > now:
            out.append({"quarter": q.label, "as_of": q.start.isoformat(), "status": "not started"})
            continue
        then = Ledger.build(e for e in events if e.occurred_at < q.start)
        f = forecast_as_of(then, model, q, scope, q.start, tz)
        real = actual(known, [d["opportunity_id"] for d in f["deals"]], q, now)
        sw, bb = f["stage_weighted"]["amount"], f["behaviour_based"]["amount"]
        out.append(
            {
                **f,
                "status": "complete" if q.end <= now else "in progress",
                "actual": float(real),
                "error": {"stage_weighted": error(sw, real), "behaviour_based": error(bb, real)},
            }
        )
    return out
