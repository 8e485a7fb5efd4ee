"""`/scoring-model` (weights, targets, stage probabilities) and `POST /health/recompute` (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from services.scoring_svc.application import scoring_model
from services.scoring_svc.application.uow import ScoringUnitOfWork
from services.scoring_svc.domain import model as m
from services.scoring_svc.domain import permissions
from services.scoring_svc.entrypoints.api.deps import Scoring, checked_week
from shared.errors import ValidationFailedError
from shared.http.auth import CurrentPrincipal
from shared.http.commands import CommandResult, execute
from shared.http.deps import IfMatch
from shared.problems_doc import PROBLEMS

router = APIRouter(tags=["scoring model"])
StageKey = Field(min_length=1, max_length=100)


class ScoringModelWrite(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "weights": dict(m.DEFAULT_WEIGHTS),
                    "revisit_target": 2,
                    "completeness_target": 0.9,
                    "roles_target": 3,
                    "requirement_kinds": dict(m.DEFAULT_KINDS),
                    "completeness_from_stage": "initial_contact",
                    "competitive_from_stage": "needs_confirmed",
                    "stage_probabilities": dict(m.DEFAULT_PROBABILITIES),
                }
            ]
        },
    )
    weights: dict[str, float] = Field(description="one per component; they sum to 1")
    revisit_target: float = Field(gt=0)
    completeness_target: float = Field(gt=0)
    roles_target: float = Field(gt=0)
    requirement_kinds: dict[str, str] = Field(default_factory=lambda: dict(m.DEFAULT_KINDS))
    completeness_from_stage: str = Field("initial_contact", min_length=1, max_length=100)
    competitive_from_stage: str = Field("needs_confirmed", min_length=1, max_length=100)
    stage_probabilities: dict[str, float] = Field(
        default_factory=lambda: dict(m.DEFAULT_PROBABILITIES)
    )


class RecomputeWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_week: str = Field(pattern=r"^\d{4}-W\d{2}$", examples=["2026-W40"])
    to_week: str = Field(pattern=r"^\d{4}-W\d{2}$", examples=["2026-W47"])


@router.get(
    "/scoring-model",
    operation_id="getScoringModel",
    summary="The scoring model in force (defaults until an admin changes it)",
    responses=PROBLEMS,
)
async def get_model(svc: Scoring, _actor: CurrentPrincipal, response: Response) -> dict[str, Any]:
    async with svc.uow() as uow:
        model = await scoring_model.current(uow)
    response.headers["ETag"] = f'"{model.version}"'
    return scoring_model.view(model)


@router.put(
    "/scoring-model",
    operation_id="changeScoringModel",
    summary="Change the scoring model (admins); applies from the next computation",
    responses=PROBLEMS,
)
async def put_model(
    body: ScoringModelWrite,
    request: Request,
    svc: Scoring,
    actor: CurrentPrincipal,
    expected: IfMatch,
) -> Response:
    permissions.require_admin(actor, "change the scoring model")

    async def handler(uow: ScoringUnitOfWork) -> CommandResult:
        model = await scoring_model.change(uow, svc.context(actor, expected), body.model_dump())
        return CommandResult(200, scoring_model.view(model), {"ETag": f'"{model.version}"'})

    return await execute(request, actor, svc.uow, handler, retry_on_conflict=False)


@router.post(
    "/health/recompute",
    operation_id="recomputeHealth",
    summary="Publish closed weeks again with the model in force (earlier revisions stay)",
    responses=PROBLEMS,
)
async def recompute(
    body: RecomputeWrite, request: Request, svc: Scoring, actor: CurrentPrincipal
) -> Response:
    permissions.require_admin(actor, "recompute published scores")
    first = svc.health.week(checked_week(svc, body.from_week, "from_week"))
    last = svc.health.week(checked_week(svc, body.to_week, "to_week"))
    if last.start < first.start:
        raise ValidationFailedError("to_week is before from_week", field="to_week")
    if last.end > svc.clock.now():
        raise ValidationFailedError("to_week has not closed yet", field="to_week")
    labels = [first.label]
    while svc.health.week(labels[-1]).start < last.start:
        labels.append(svc.week_after(labels[-1]))
    if len(labels) > 53:
        raise ValidationFailedError("at most 53 weeks at once", field="from_week")

    async def handler(uow: ScoringUnitOfWork) -> CommandResult:
        model = await scoring_model.current(uow)
        done = [
            {"week": label, "revision": await svc.health.publish(uow, label, model)}
            for label in labels
        ]
        return CommandResult(200, {"model_version": model.version, "weeks": done})

    return await execute(request, actor, svc.uow, handler, retry_on_conflict=False)
