"""`/accounts`: the group customer master file (集团客户主档案); every member reads, owners write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.collab_svc.adapters.paging import Page
from services.collab_svc.application import accounts as h
from services.collab_svc.domain import commands as c
from services.collab_svc.domain.errors import AccountNotFoundError
from services.collab_svc.entrypoints.api import schemas as s
from services.collab_svc.entrypoints.api.deps import Collab, PathId, Reader, run_command
from shared.http.auth import CurrentPrincipal
from shared.http.deps import IfMatch
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.post(
    "",
    status_code=201,
    operation_id="registerAccount",
    summary="Register an account in a region (its regional manager, or an admin)",
    response_model=s.AccountRead,
    responses=PROBLEMS,
)
async def register_account(
    body: s.AccountCreate, request: Request, svc: Collab, actor: CurrentPrincipal
) -> Response:
    cmd = c.RegisterAccount(
        account_id=body.account_id,
        name=body.name,
        owning_region=body.owning_region or actor.region,
        group_id=body.group_id,
        industry=body.industry,
        contact_emails=body.contact_emails,
        contact_phones=body.contact_phones,
    )
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.register(cmd, uow, ctx),
        status=201,
        location=f"/accounts/{cmd.account_id}",
        occurred_at=body.occurred_at,
    )


@router.get(
    "",
    operation_id="listAccounts",
    summary="List accounts of every region (filter by region or group)",
    response_model=s.Page[s.AccountRead],
    responses=PROBLEMS,
)
async def list_accounts(
    svc: Collab,
    _actor: Reader,
    region: Annotated[str | None, Query(max_length=100, description="owning region")] = None,
    group_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    page = Page({"owning_region": region, "group_id": group_id}, cursor, limit)
    async with svc.uow() as uow:
        items, nxt = await uow.accounts.page(page)
    return {"items": items, "next_cursor": nxt}


@router.get(
    "/{account_id}",
    operation_id="getAccount",
    summary="One account's master data and owning region",
    response_model=s.AccountRead,
    responses=PROBLEMS,
)
async def get_account(
    account_id: PathId, svc: Collab, _actor: Reader, response: Response
) -> dict[str, Any]:
    async with svc.uow() as uow:
        account = await uow.accounts.get(account_id)
    if account is None:
        raise AccountNotFoundError(f"no account {account_id}")
    response.headers["ETag"] = f'"{account["version"]}"'
    return account


@router.put(
    "/{account_id}",
    operation_id="updateAccount",
    summary="Replace master data (the owning region's supervisors and manager, or an admin)",
    response_model=s.AccountRead,
    responses=PROBLEMS,
)
async def update_account(
    account_id: PathId,
    body: s.AccountUpdate,
    request: Request,
    svc: Collab,
    actor: CurrentPrincipal,
    expected: IfMatch,
) -> Response:
    cmd = c.UpdateAccount(
        account_id=account_id,
        name=body.name,
        group_id=body.group_id,
        industry=body.industry,
        contact_emails=body.contact_emails,
        contact_phones=body.contact_phones,
    )
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.update(cmd, uow, ctx),
        expected=expected,
        occurred_at=body.occurred_at,
    )


@router.post(
    "/{account_id}/transfer",
    operation_id="transferAccount",
    summary="Transfer ownership to another region (the owning regional manager, or an admin)",
    response_model=s.AccountRead,
    responses=PROBLEMS,
)
async def transfer_account(
    account_id: PathId,
    body: s.AccountTransfer,
    request: Request,
    svc: Collab,
    actor: CurrentPrincipal,
    expected: IfMatch,
) -> Response:
    cmd = c.TransferAccount(account_id, body.to_region, body.reason)
    return await run_command(
        request,
        svc,
        actor,
        lambda uow, ctx: h.transfer(cmd, uow, ctx),
        expected=expected,
        occurred_at=body.occurred_at,
    )
