"""The manager's workbench (工作台): open alerts and reports in the caller's scope, ranked."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter

from services.alert_svc.adapters.alerts import visibility
from services.alert_svc.domain import permissions
from services.alert_svc.entrypoints.api import schemas as s
from services.alert_svc.entrypoints.api.deps import Alerts
from services.alert_svc.entrypoints.api.links import alert_view
from shared.http.auth import CurrentPrincipal
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/workbench", tags=["workbench"])
LIMIT = 500
SCOPES = {"admin": "all", "regional_manager": "region", "supervisor": "team"}


@router.get(
    "",
    operation_id="getWorkbench",
    summary="Your open alerts and risk reports (supervisor: team; regional manager: region), "
    "most severe and oldest first, with counts per rule",
    response_model=s.Workbench,
    responses=PROBLEMS,
)
async def workbench(svc: Alerts, actor: CurrentPrincipal) -> dict[str, Any]:
    permissions.require_reader(actor)
    async with svc.uow() as uow:
        below = await uow.tx.subjects.below(actor.sub)
        scope, params = visibility(actor.sub, actor.role, actor.region, actor.team, below)
        items = await uow.tx.alerts.open_in(scope, params, LIMIT)
    counts = Counter((i["rule_id"], i["rule_name"]) for i in items)
    return {
        "member_id": actor.sub,
        "scope": SCOPES.get(actor.role, "own"),
        "items": [alert_view(i) for i in items],
        "counts": [
            {"rule_id": rule_id, "rule_name": name, "open": n}
            for (rule_id, name), n in sorted(counts.items())
        ],
    }
