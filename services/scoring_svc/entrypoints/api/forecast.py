"""`GET /forecast` (a quarter, both methods) and `GET /forecast/backtest` (past quarters)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.scoring_svc.application import scoring_model
from services.scoring_svc.application.forecast import backtest, forecast_as_of
from services.scoring_svc.application.scopes import scope_for
from services.scoring_svc.domain import calendar
from services.scoring_svc.entrypoints.api.deps import (
    OptionalId,
    QuarterParam,
    Scoring,
    checked_quarter,
)
from shared.errors import ValidationFailedError
from shared.http.auth import CurrentPrincipal
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/forecast", tags=["forecast"])
MAX_QUARTERS = 20


@router.get(
    "",
    operation_id="getForecast",
    summary="A quarter's forecast as of now: stage-weighted and behaviour-based, with the deals",
    responses=PROBLEMS,
)
async def get_forecast(
    svc: Scoring,
    actor: CurrentPrincipal,
    quarter: QuarterParam,
    region: OptionalId = None,
    team: OptionalId = None,
) -> dict[str, Any]:
    q = checked_quarter(svc, quarter, "quarter")
    now = svc.clock.now()
    ledger = await svc.ledger()
    scope = scope_for(actor, ledger, now, region, team, None)
    async with svc.uow() as uow:
        model = await scoring_model.current(uow)
    # training is CPU work: keep the event loop free for other requests
    body = await asyncio.to_thread(forecast_as_of, ledger, model, q, scope, now, svc.tz)
    return {"scope": {"region": scope.region, "team": scope.team}, **body}


@router.get(
    "/backtest",
    operation_id="backtestForecast",
    summary="Each quarter forecast as of its first day from earlier events only, vs actual",
    responses=PROBLEMS,
)
async def get_backtest(
    svc: Scoring,
    actor: CurrentPrincipal,
    first: Annotated[str, Query(alias="from", pattern=r"^\d{4}-Q[1-4]$", examples=["2026-Q1"])],
    last: Annotated[str, Query(alias="to", pattern=r"^\d{4}-Q[1-4]$", examples=["2026-Q4"])],
    region: OptionalId = None,
    team: OptionalId = None,
) -> dict[str, Any]:
    start, end = checked_quarter(svc, first, "from"), checked_quarter(svc, last, "to")
    if end.start < start.start:
        raise ValidationFailedError("to is before from", field="to")
    quarters = calendar.quarters(first, last, svc.tz)
    if len(quarters) > MAX_QUARTERS:
        raise ValidationFailedError(f"at most {MAX_QUARTERS} quarters", field="from")
    now = svc.clock.now()
    events = await svc.facts.events()
    scope = scope_for(actor, await svc.ledger(), now, region, team, None)
    async with svc.uow() as uow:
        model = await scoring_model.current(uow)
    rows = await asyncio.to_thread(backtest, events, model, quarters, scope, now, svc.tz)
    return {"scope": {"region": scope.region, "team": scope.team}, "quarters": rows}
