"""The cross-region timeline, per account and per group: every member of every region reads it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from services.collab_svc.adapters.timeline import TimelineQuery
from services.collab_svc.domain import permissions
from services.collab_svc.domain.errors import AccountNotFoundError, GroupNotFoundError
from services.collab_svc.entrypoints.api import schemas as s
from services.collab_svc.entrypoints.api.deps import Collab, PathId
from shared.errors import ValidationFailedError
from shared.http.auth import CurrentPrincipal
from shared.http.types import BusinessDateTime
from shared.problems_doc import PROBLEMS

router = APIRouter(tags=["timeline"])
Kinds = Annotated[
    list[s.TimelineKind] | None,
    Query(description="repeatable: ?kind=activity&kind=stage_advanced", max_length=13),
]
Region = Annotated[str | None, Query(max_length=100, description="the region that acted")]
Since = Annotated[BusinessDateTime | None, Query(description="occurred at or after (inclusive)")]
Until = Annotated[BusinessDateTime | None, Query(description="occurred before (exclusive)")]
Order = Annotated[Literal["asc", "desc"], Query(description="by business time; newest first")]
Cursor = Annotated[str | None, Query(max_length=300)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _query(
    kind: Kinds = None,
    region: Region = None,
    since: Since = None,
    until: Until = None,
    order: Order = "desc",
    cursor: Cursor = None,
    limit: Limit = 50,
) -> TimelineQuery:
    """The filters both timelines take, as one dependency."""
    if since is not None and until is not None and until <= since:
        raise ValidationFailedError("until must lie after since", field="until")
    kinds = tuple(sorted(set(kind or [])))
    return TimelineQuery(kinds, region, since, until, order, cursor, limit)


Filters = Annotated[TimelineQuery, Depends(_query)]


@router.get(
    "/accounts/{account_id}/timeline",
    operation_id="getAccountTimeline",
    summary="An account's history across regions, e.g. ?kind=activity&order=desc&limit=3",
    response_model=s.Page[s.TimelineEntryRead],
    responses=PROBLEMS,
)
async def account_timeline(
    account_id: PathId, svc: Collab, actor: CurrentPrincipal, q: Filters
) -> dict[str, Any]:
    permissions.require_read(actor)
    async with svc.uow() as uow:
        timeline = uow.timeline
        items, nxt = await timeline.page("account_id", account_id, q)
        # pipeline events may name an account before collab registers it: show what is known
        if (
            not items
            and await uow.accounts.get(account_id) is None
            and not await timeline.has_entries("account_id", account_id)
        ):
            raise AccountNotFoundError(f"no account {account_id}")
    return {"items": items, "next_cursor": nxt}


@router.get(
    "/groups/{group_id}/timeline",
    operation_id="getGroupTimeline",
    summary="The history of every account of a group (集团), across regions",
    response_model=s.Page[s.TimelineEntryRead],
    responses=PROBLEMS,
)
async def group_timeline(
    group_id: PathId, svc: Collab, actor: CurrentPrincipal, q: Filters
) -> dict[str, Any]:
    permissions.require_read(actor)
    async with svc.uow() as uow:
        items, nxt = await uow.timeline.page("group_id", group_id, q)
        if not items and not await uow.accounts.group_exists(group_id):
            raise GroupNotFoundError(f"no account belongs to group {group_id}")
    return {"items": items, "next_cursor": nxt}


@router.get(
    "/accounts/{account_id}/contact-frequency",
    operation_id="getContactFrequency",
    summary="Activities naming a contact, per ISO week (UTC): how often they responded",
    response_model=s.ContactFrequencyRead,
    responses=PROBLEMS,
)
async def contact_frequency(
    account_id: PathId,
    svc: Collab,
    actor: CurrentPrincipal,
    contact: Annotated[str, Query(min_length=1, max_length=500)],
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    permissions.require_read(actor)
    async with svc.uow() as uow:
        timeline = uow.timeline
        if await uow.accounts.get(account_id) is None and not await timeline.has_entries(
            "account_id", account_id
        ):
            raise AccountNotFoundError(f"no account {account_id}")
        freq = await timeline.contact_frequency(account_id, contact, since, until)
    return {
        "account_id": account_id,
        "contact": contact,
        "total": freq.total,
        "weeks": [
            {"week": w.week, "week_start": w.week_start.isoformat(), "activities": w.activities}
            for w in freq.weeks
        ],
    }
