"""`GET /kpis`: lead response, completeness, conflicts, cycle, win rate, dwell and conversion."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.scoring_svc.application.scopes import scope_for
from services.scoring_svc.domain import calendar
from services.scoring_svc.domain.funnel import STALL_DAYS, funnel
from services.scoring_svc.domain.kpis import kpis
from services.scoring_svc.entrypoints.api.deps import OptionalId, Scoring
from shared.errors import ValidationFailedError
from shared.http.auth import CurrentPrincipal
from shared.problems_doc import PROBLEMS

router = APIRouter(tags=["kpis"])
MAX_PERIODS = 120
MAX_DAYS = 3660
From = Annotated[date, Query(alias="from", description="first day (org time zone)")]
To = Annotated[date, Query(alias="to", description="day after the last (exclusive)")]


def checked_periods(
    svc: Any, first: date, until: date, granularity: calendar.Granularity
) -> list[calendar.Period]:
    if until <= first:
        raise ValidationFailedError("to must be after from", field="to")
    if (until - first).days > MAX_DAYS or first.year < calendar.FIRST_YEAR:
        raise ValidationFailedError(
            f"from must be {calendar.FIRST_YEAR} or later and at most {MAX_DAYS} days before to",
            field="from",
        )
    found = calendar.periods(first, until, granularity, svc.tz)
    if len(found) > MAX_PERIODS:
        raise ValidationFailedError(f"at most {MAX_PERIODS} periods at once", field="granularity")
    return found


@router.get(
    "/kpis",
    operation_id="getKpis",
    summary="KPIs per period for a region, team or rep (each figure with its count)",
    responses=PROBLEMS,
)
async def get_kpis(
    svc: Scoring,
    actor: CurrentPrincipal,
    first: From,
    until: To,
    region: OptionalId = None,
    team: OptionalId = None,
    rep: OptionalId = None,
    granularity: Literal["week", "month", "quarter"] = "month",
) -> dict[str, Any]:
    found = checked_periods(svc, first, until, granularity)
    now = svc.clock.now()
    ledger = await svc.ledger()
    scope = scope_for(actor, ledger, now, region, team, rep)
    return {
        "scope": {"region": scope.region, "team": scope.team, "rep": scope.rep},
        "granularity": granularity,
        "as_of": now.isoformat(),
        "periods": [
            {
                "period": p.label,
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                **kpis(ledger, scope, p, now),
            }
            for p in found
        ],
    }


@router.get(
    "/funnel",
    operation_id="getFunnel",
    summary="Per stage: entered, advanced, stalled, died, dwell; the three death nodes (死亡节点)",
    responses=PROBLEMS,
)
async def get_funnel(
    svc: Scoring,
    actor: CurrentPrincipal,
    first: From,
    until: To,
    region: OptionalId = None,
    team: OptionalId = None,
    stall_days: Annotated[float, Query(gt=0, le=365)] = STALL_DAYS,
) -> dict[str, Any]:
    checked_periods(svc, first, until, "quarter")
    now = svc.clock.now()
    ledger = await svc.ledger()
    scope = scope_for(actor, ledger, now, region, team, None)
    whole = calendar.span(first, until, svc.tz)
    return {
        "scope": {"region": scope.region, "team": scope.team},
        "from": whole.start.isoformat(),
        "to": whole.end.isoformat(),
        "stall_days": stall_days,
        "as_of": now.isoformat(),
        **funnel(ledger, scope, whole, now, stall_days),
    }
