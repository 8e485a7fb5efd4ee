"""`/health`: weekly behaviour health scores (行为健康度) of reps, teams and regions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.scoring_svc.domain import calendar, permissions
from services.scoring_svc.entrypoints.api.deps import (
    OptionalId,
    PathId,
    Scoring,
    WeekParam,
    checked_week,
)
from shared.errors import NotFoundError
from shared.http.auth import CurrentPrincipal
from shared.identity import Principal
from shared.problems_doc import PROBLEMS
from shared.store.cursors import decode_seq, encode_seq

router = APIRouter(prefix="/health", tags=["health scores"])
_SECOND = timedelta(seconds=1)


def _empty(scope: str, scope_id: str, week: str) -> dict[str, Any]:
    return {"scope": scope, "scope_id": scope_id, "week": week, "score": None, "components": []}


@router.get(
    "/reps/{rep_id}",
    operation_id="getRepHealth",
    summary="A rep's health score for an ISO week, with its components and what would raise it",
    responses=PROBLEMS,
)
async def rep_health(
    svc: Scoring, actor: CurrentPrincipal, rep_id: PathId, week: WeekParam = None
) -> dict[str, Any]:
    label = checked_week(svc, week)
    body = await svc.health.answer("rep", rep_id, label)
    if body is None:
        permissions.require_read_rep(actor, rep_id, None, None)
        raise NotFoundError(f"no rep {rep_id} is known in {label}")
    permissions.require_read_rep(actor, rep_id, body.get("team"), body.get("region"))
    return body


@router.get(
    "/reps/{rep_id}/trend",
    operation_id="getRepHealthTrend",
    summary="A rep's scores over the last weeks, oldest first (the current week provisional)",
    responses=PROBLEMS,
)
async def rep_trend(
    svc: Scoring,
    actor: CurrentPrincipal,
    rep_id: PathId,
    weeks: Annotated[int, Query(ge=1, le=53)] = 12,
) -> dict[str, Any]:
    current = calendar.week_of(svc.clock.now(), svc.tz)
    labels = [current.label]
    while len(labels) < weeks:
        labels.insert(0, calendar.week_of(svc.health.week(labels[0]).start - _SECOND, svc.tz).label)
    bodies = [await svc.health.answer("rep", rep_id, label) for label in labels]
    # the rep's latest known place decides who may follow them
    latest: dict[str, Any] = next((b for b in reversed(bodies) if b is not None), {})
    permissions.require_read_rep(actor, rep_id, latest.get("team"), latest.get("region"))
    points = []
    for label, body in zip(labels, bodies, strict=True):
        shown = body or {**_empty("rep", rep_id, label), "provisional": label == current.label}
        points.append(
            {k: shown.get(k) for k in ("week", "score", "provisional", "published", "components")}
        )
    # the current week's figures on top, as every health answer has them
    return {"rep_id": rep_id, **points[-1], "weeks": points}


@router.get(
    "/teams/{team_id}",
    operation_id="getTeamHealth",
    summary="A team's score: the mean of its members' scores (membership at the week's end)",
    responses=PROBLEMS,
)
async def team_health(
    svc: Scoring, actor: CurrentPrincipal, team_id: PathId, week: WeekParam = None
) -> dict[str, Any]:
    label = checked_week(svc, week)
    body = await svc.health.answer("team", team_id, label)
    permissions.require_read_team(actor, team_id, body.get("region") if body else None)
    if body is None:
        raise NotFoundError(f"no team {team_id} has members in {label}")
    return body


@router.get(
    "/regions/{region}",
    operation_id="getRegionHealth",
    summary="A region's score: the mean of its teams' scores",
    responses=PROBLEMS,
)
async def region_health(
    svc: Scoring, actor: CurrentPrincipal, region: PathId, week: WeekParam = None
) -> dict[str, Any]:
    label = checked_week(svc, week)
    permissions.require_read_region(actor, region)
    body = await svc.health.answer("region", region, label)
    if body is None:
        raise NotFoundError(f"no team of region {region} has members in {label}")
    return body


def _visible(actor: Principal, body: dict[str, Any]) -> bool:
    if actor.is_admin or actor.sub == body["scope_id"]:
        return True
    if actor.role == "supervisor":
        return bool(body.get("team") == actor.team)
    return actor.role == "regional_manager" and body.get("region") == actor.region


@router.get(
    "",
    operation_id="listRepHealth",
    summary="Reps' scores of a week, weakest first (reps without a score last)",
    responses=PROBLEMS,
)
async def list_health(
    svc: Scoring,
    actor: CurrentPrincipal,
    week: WeekParam = None,
    region: OptionalId = None,
    team: OptionalId = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    label = checked_week(svc, week)
    bodies, published = await svc.health.answers(label)
    if team is not None:
        permissions.require_read_team(actor, team, bodies["team"].get(team, {}).get("region"))
    elif region is not None:
        permissions.require_read_region(actor, region)
    reps = [
        b
        for b in bodies["rep"].values()
        if (region is None or b.get("region") == region)
        and (team is None or b.get("team") == team)
        and _visible(actor, b)
    ]
    reps.sort(key=lambda b: (b["score"] is None, b["score"] or 0.0, b["scope_id"]))
    start = decode_seq(cursor) if cursor else 0
    page = reps[start : start + limit]
    scope = ("team", team) if team else ("region", region) if region else None
    summary = bodies[scope[0]].get(scope[1], {}) if scope and scope[1] else {}
    return {
        "week": label,
        "provisional": svc.clock.now() < svc.health.week(label).end,
        "published": published,
        "score": summary.get("score"),
        "components": summary.get("components", []),
        "items": [
            {k: b.get(k) for k in ("scope_id", "team", "region", "score")}
            | {"rep_id": b["scope_id"]}
            for b in page
        ],
        "next_cursor": encode_seq(start + limit) if start + limit < len(reps) else None,
    }
