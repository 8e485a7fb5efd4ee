"""Rules as data: read by everyone, defined and changed by admins, simulated over history."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from services.alert_svc.application import rules
from services.alert_svc.application.uow import Stores
from services.alert_svc.domain import permissions
from services.alert_svc.domain.errors import RuleNotFoundError
from services.alert_svc.entrypoints.api import schemas as s
from services.alert_svc.entrypoints.api.deps import Alerts, PathId, parse_body, run_command
from shared.context import Context
from shared.contracts.rules import RuleDefinition
from shared.http.auth import CurrentPrincipal
from shared.http.deps import IfMatch
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/rules", tags=["rules"])
BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/RuleCreate"}},
            "application/yaml": {"schema": {"$ref": "#/components/schemas/RuleCreate"}},
        },
    }
}
DEFINITION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/RuleDefinition"}},
            "application/yaml": {"schema": {"$ref": "#/components/schemas/RuleDefinition"}},
        },
    }
}
AsOf = Annotated[AwareDatetime | None, Query(description="business time; default now")]


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return f"{slug or 'rule'}-{uuid.uuid4().hex[:6]}"


@router.get("/schema", operation_id="ruleSchema", summary="JSON Schema of a rule definition")
async def rule_schema(actor: CurrentPrincipal) -> dict[str, Any]:
    return RuleDefinition.model_json_schema()


@router.get("", operation_id="listRules", response_model=list[s.RuleRead], responses=PROBLEMS)
async def list_rules(svc: Alerts, actor: CurrentPrincipal) -> list[dict[str, Any]]:
    permissions.require_reader(actor)
    async with svc.uow() as uow:
        return [r.view() for r in await uow.tx.rules.all()]


@router.get("/{rule_id}", operation_id="getRule", response_model=s.RuleRead, responses=PROBLEMS)
async def get_rule(
    rule_id: PathId, svc: Alerts, actor: CurrentPrincipal, response: Response
) -> dict[str, Any]:
    permissions.require_reader(actor)
    async with svc.uow() as uow:
        rule = await uow.tx.rules.get(rule_id)
    if rule is None:
        raise RuleNotFoundError(f"no rule {rule_id}")
    response.headers["ETag"] = f'"{rule.version}"'
    return rule.view()


@router.post(
    "",
    operation_id="defineRule",
    summary="Define a rule (admins); it applies to open opportunities at once",
    status_code=201,
    response_model=s.RuleRead,
    responses=PROBLEMS,
    openapi_extra=BODY,
)
async def define_rule(request: Request, svc: Alerts, actor: CurrentPrincipal) -> Response:
    permissions.require_admin(actor)
    body = await parse_body(request, s.RuleCreate)
    rule_id = body.rule_id or _slug(body.name)
    definition = RuleDefinition.model_validate(body.model_dump(exclude={"rule_id"}))

    async def step(tx: Stores, ctx: Context) -> tuple[dict[str, Any], int]:
        out = await rules.define(tx, rule_id, definition, ctx)
        return out.view, out.version

    return await run_command(request, svc, actor, step, status=201, location=f"/rules/{rule_id}")


@router.put(
    "/{rule_id}",
    operation_id="changeRule",
    summary="Replace a rule's definition (admins); open deadlines are re-planned",
    response_model=s.RuleRead,
    responses=PROBLEMS,
    openapi_extra=DEFINITION_BODY,
)
async def change_rule(
    rule_id: PathId, request: Request, svc: Alerts, actor: CurrentPrincipal, expected: IfMatch
) -> Response:
    permissions.require_admin(actor)
    definition = await parse_body(request, RuleDefinition)

    async def step(tx: Stores, ctx: Context) -> tuple[dict[str, Any], int]:
        out = await rules.change(tx, rule_id, definition, ctx)
        return out.view, out.version

    return await run_command(request, svc, actor, step, expected=expected)


async def _toggle(
    rule_id: str, enabled: bool, request: Request, svc: Any, actor: Any, expected: int | None
) -> Response:
    permissions.require_admin(actor)

    async def step(tx: Stores, ctx: Context) -> tuple[dict[str, Any], int]:
        out = await rules.set_enabled(tx, rule_id, enabled, ctx)
        return out.view, out.version

    return await run_command(request, svc, actor, step, expected=expected)


@router.post(
    "/{rule_id}/disable", operation_id="disableRule", response_model=s.RuleRead, responses=PROBLEMS
)
async def disable_rule(
    rule_id: PathId, request: Request, svc: Alerts, actor: CurrentPrincipal, expected: IfMatch
) -> Response:
    return await _toggle(rule_id, False, request, svc, actor, expected)


@router.post(
    "/{rule_id}/enable", operation_id="enableRule", response_model=s.RuleRead, responses=PROBLEMS
)
async def enable_rule(
    rule_id: PathId, request: Request, svc: Alerts, actor: CurrentPrincipal, expected: IfMatch
) -> Response:
    return await _toggle(rule_id, True, request, svc, actor, expected)


async def _simulate(svc: Any, definition: RuleDefinition, as_of: Any) -> dict[str, Any]:
    when = as_of or svc.clock.now()
    async with svc.uow() as uow:
        firings, subjects = await rules.simulate_rule(uow.tx, definition, when)
    return {
        "as_of": when,
        "subjects": subjects,
        "firings": [
            {"opportunity_id": f.opportunity_id, "started_at": f.started_at, "due_at": f.due_at}
            for f in firings
        ],
    }


@router.post(
    "/simulate",
    operation_id="simulateRuleBody",
    summary="Which opportunities an unsaved rule would have fired on by `as_of`, and when",
    response_model=s.SimulationRead,
    responses=PROBLEMS,
    openapi_extra=DEFINITION_BODY,
)
async def simulate_body(
    request: Request, svc: Alerts, actor: CurrentPrincipal, as_of: AsOf = None
) -> dict[str, Any]:
    permissions.require_admin(actor)
    definition = await parse_body(request, RuleDefinition)
    return await _simulate(svc, definition, as_of)


@router.post(
    "/{rule_id}/simulate",
    operation_id="simulateRule",
    summary="Which opportunities the rule would have fired on by `as_of`, and when",
    response_model=s.SimulationRead,
    responses=PROBLEMS,
)
async def simulate_rule(
    rule_id: PathId, svc: Alerts, actor: CurrentPrincipal, as_of: AsOf = None
) -> dict[str, Any]:
    permissions.require_admin(actor)
    async with svc.uow() as uow:
        rule = await uow.tx.rules.get(rule_id)
    if rule is None:
        raise RuleNotFoundError(f"no rule {rule_id}")
    return await _simulate(svc, rule.definition, as_of)
