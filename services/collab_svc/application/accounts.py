"""Account handlers (集团客户主档案): register, update master data, transfer ownership."""

from __future__ import annotations

from services.collab_svc.application.handlers import Outcome, check_version, record
from services.collab_svc.application.org import load_region
from services.collab_svc.application.uow import CollabUnitOfWork
from services.collab_svc.domain import commands as c
from services.collab_svc.domain import permissions
from services.collab_svc.domain.account import STREAM_TYPE, Account
from services.collab_svc.domain.errors import AccountNotFoundError
from shared.context import Context
from shared.contracts import collab as ev
from shared.events.base import DomainEvent


def stream(account_id: str) -> tuple[str, str]:
    return f"account-{account_id}", STREAM_TYPE


async def load(uow: CollabUnitOfWork, account_id: str) -> Account:
    """The account as its stream says; raises 404 if it was never registered."""
    envelopes = await uow.events.load(stream(account_id)[0])
    account = Account.fold(account_id, [e.event for e in envelopes])
    if not account.exists:
        raise AccountNotFoundError(f"no account {account_id}")
    return account


async def _record(
    uow: CollabUnitOfWork, account: Account, events: list[DomainEvent], ctx: Context
) -> Outcome:
    events = await record(
        uow,
        stream(account.account_id),
        account.version,
        events,
        ctx.metadata,
        account.account_id,
        dated=ctx.dated,
    )
    for e in events:
        account.apply(e)
        if isinstance(e, ev.AccountRegistered | ev.AccountOwnershipTransferred):
            await uow.accounts.add_owner(
                account.account_id, account.version, account.owning_region, e.occurred_at
            )
        if isinstance(e, ev.AccountOwnershipTransferred):
            await uow.requests.reroute(account.account_id, e.to_region)
    if events:
        await uow.accounts.save(account)
    view = await uow.accounts.get(account.account_id)
    assert view is not None
    return Outcome(view, account.version)


async def register(cmd: c.RegisterAccount, uow: CollabUnitOfWork, ctx: Context) -> Outcome:
    permissions.require_register_account(ctx.actor, cmd.owning_region)
    envelopes = await uow.events.load(stream(cmd.account_id)[0])
    account = Account.fold(cmd.account_id, [e.event for e in envelopes])
    region = await load_region(uow, cmd.owning_region)
    return await _record(uow, account, account.register(cmd, region, ctx.actor, ctx.now), ctx)


async def update(cmd: c.UpdateAccount, uow: CollabUnitOfWork, ctx: Context) -> Outcome:
    account = await load(uow, cmd.account_id)
    permissions.require_update_account(ctx.actor, account.owning_region)
    check_version(ctx, account.version, "account")
    return await _record(uow, account, account.update(cmd, ctx.actor, ctx.now), ctx)


async def transfer(cmd: c.TransferAccount, uow: CollabUnitOfWork, ctx: Context) -> Outcome:
    account = await load(uow, cmd.account_id)
    permissions.require_transfer_account(ctx.actor, account.owning_region)
    check_version(ctx, account.version, "account")
    to = await load_region(uow, cmd.to_region)
    return await _record(uow, account, account.transfer(cmd, to, ctx.actor, ctx.now), ctx)
