"""Cross-region conflicts (跨区冲突) per region and month: for approvers and admins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.collab_svc.domain import permissions
from services.collab_svc.entrypoints.api import schemas as s
from services.collab_svc.entrypoints.api.deps import Collab
from shared.http.auth import CurrentPrincipal
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/conflicts", tags=["conflicts"])
Month = Annotated[
    str | None,
    Query(
        pattern=r"^(199\d|20\d\d)-(0[1-9]|1[0-2])$",
        description="YYYY-MM (UTC), 1990-01 to 2099-12",
        examples=["2026-03"],
    ),
]


def month_range(month: str) -> tuple[datetime, datetime]:
    year, number = (int(p) for p in month.split("-"))
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return start, end


@router.get(
    "",
    operation_id="listConflicts",
    summary="Conflicts a region is part of (as owner or contact), oldest first",
    response_model=s.Page[s.ConflictRead],
    responses=PROBLEMS,
)
async def list_conflicts(
    svc: Collab,
    actor: CurrentPrincipal,
    region: Annotated[str | None, Query(max_length=100, description="default: yours")] = None,
    month: Month = None,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    # admins may list every region at once; the others their own region's
    of = region or (None if actor.is_admin else actor.region)
    permissions.require_read_conflicts(actor, of or actor.region)
    start, end = month_range(month) if month else (None, None)
    async with svc.uow() as uow:
        items, nxt = await uow.conflicts.page(of, start, end, cursor, limit)
    return {"items": items, "next_cursor": nxt}


@router.get(
    "/summary",
    operation_id="summarizeConflicts",
    summary="Conflicts per region in a month: as owner, as contact (KPI 跨区冲突/月)",
    response_model=s.ConflictSummary,
    responses=PROBLEMS,
)
async def summarize_conflicts(
    svc: Collab, actor: CurrentPrincipal, month: Month = None
) -> dict[str, Any]:
    permissions.require_read_conflicts(actor, actor.region)
    month = month or svc.clock.now().astimezone(UTC).strftime("%Y-%m")
    async with svc.uow() as uow:
        regions = await uow.conflicts.summary(*month_range(month))
    return {"month": month, "regions": regions}
