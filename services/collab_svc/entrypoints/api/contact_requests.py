"""Contact requests (协作申请): another region asks, the owning region approves or rejects."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from services.collab_svc.adapters.paging import Page
from services.collab_svc.application import contacts as h
from services.collab_svc.domain import commands as c
from services.collab_svc.domain import permissions
from services.collab_svc.domain.errors import ContactRequestNotFoundError, NotPermittedError
from services.collab_svc.entrypoints.api import schemas as s
from services.collab_svc.entrypoints.api.deps import Collab, PathId, Reader, run_command
from shared.http.auth import CurrentPrincipal
from shared.http.deps import IfMatch
from shared.problems_doc import PROBLEMS

router = APIRouter(tags=["contact requests"])


@router.post(
    "/accounts/{account_id}/contact-requests",
    status_code=201,
    operation_id="requestContact",
    summary="Ask the owning region for a time-boxed grant to contact its account",
    response_model=s.ContactRequestRead,
    responses=PROBLEMS,
)
async def request_contact(
    account_id: PathId,
    body: s.ContactRequestCreate,
    request: Request,
    svc: Collab,
    actor: CurrentPrincipal,
) -> Response:
    cmd = c.RequestContact(
        str(uuid.uuid4()), account_id, body.purpose, body.window_start, body.window_end
    )
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.request(cmd, uow, ctx),
        status=201,
        location=f"/contact-requests/{cmd.request_id}",
        occurred_at=body.occurred_at,
    )


@router.get(
    "/contact-requests",
    operation_id="listContactRequests",
    summary="My requests (box=mine) or the pending requests my region decides (box=inbox)",
    response_model=s.Page[s.ContactRequestRead],
    responses=PROBLEMS,
)
async def list_contact_requests(
    svc: Collab,
    actor: Reader,
    box: Literal["mine", "inbox"] = "mine",
    status: Annotated[s.RequestStatus | None, Query(description="inbox default: pending")] = None,
    account_id: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[
        str | None, Query(max_length=100, description="inbox of another region (admins)")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    filters: dict[str, str | None] = {"account_id": account_id, "status": status}
    if box == "mine":
        filters["requester_id"] = actor.sub
    else:
        inbox_of = region or (None if actor.is_admin else actor.region)
        permissions.require_decide_contact(actor, inbox_of or actor.region)
        filters["owning_region"] = inbox_of
        filters["status"] = status or "pending"
    async with svc.uow() as uow:
        items, nxt = await uow.requests.page(Page(filters, cursor, limit))
    return {"items": items, "next_cursor": nxt}


@router.get(
    "/contact-requests/{request_id}",
    operation_id="getContactRequest",
    summary="One contact request (its requester, the owning region's approvers, admins)",
    response_model=s.ContactRequestRead,
    responses=PROBLEMS,
)
async def get_contact_request(
    request_id: PathId, svc: Collab, actor: Reader, response: Response
) -> dict[str, Any]:
    async with svc.uow() as uow:
        found = await uow.requests.get(request_id)
    if found is None:
        raise ContactRequestNotFoundError(f"no contact request {request_id}")
    mine = found["requester_id"] == actor.sub
    if not mine and not permissions.may_decide_contact(actor, found["owning_region"]):
        raise NotPermittedError("only its requester and the owning region's approvers see it")
    response.headers["ETag"] = f'"{found["version"]}"'
    return found


@router.post(
    "/contact-requests/{request_id}/approve",
    operation_id="approveContactRequest",
    summary="Grant contact from max(now, window start) until valid_until (default window end)",
    response_model=s.ContactRequestRead,
    responses=PROBLEMS,
)
async def approve(
    request_id: PathId,
    request: Request,
    svc: Collab,
    actor: CurrentPrincipal,
    expected: IfMatch,
    body: s.ContactApproval | None = None,
) -> Response:
    cmd = c.ApproveContact(request_id, body.valid_until if body else None)
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.approve(cmd, uow, ctx),
        expected=expected,
        occurred_at=body.occurred_at if body else None,
    )


@router.post(
    "/contact-requests/{request_id}/reject",
    operation_id="rejectContactRequest",
    summary="Reject a pending request with a reason",
    response_model=s.ContactRequestRead,
    responses=PROBLEMS,
)
async def reject(
    request_id: PathId,
    body: s.ContactRejection,
    request: Request,
    svc: Collab,
    actor: CurrentPrincipal,
    expected: IfMatch,
) -> Response:
    cmd = c.RejectContact(request_id, body.reason)
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.reject(cmd, uow, ctx),
        expected=expected,
        occurred_at=body.occurred_at,
    )
