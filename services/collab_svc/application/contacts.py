"""Contact request handlers (协作申请): request, approve, reject, and expiring grants that are due."""

from __future__ import annotations

from datetime import datetime

from services.collab_svc.application import accounts
from services.collab_svc.application.handlers import Outcome, check_version, record
from services.collab_svc.application.uow import CollabUnitOfWork
from services.collab_svc.domain import commands as c
from services.collab_svc.domain import permissions
from services.collab_svc.domain.contact_request import STREAM_TYPE, ContactRequest, request_contact
from services.collab_svc.domain.errors import ContactRequestNotFoundError
from shared.context import Context
from shared.errors import ConcurrencyError
from shared.events.base import DomainEvent
from shared.events.envelope import Metadata


def stream(request_id: str) -> tuple[str, str]:
    return f"contact-request-{request_id}", STREAM_TYPE


async def load(uow: CollabUnitOfWork, request_id: str) -> ContactRequest:
    envelopes = await uow.events.load(stream(request_id)[0])
    req = ContactRequest.fold(request_id, [e.event for e in envelopes])
    if not req.exists:
        raise ContactRequestNotFoundError(f"no contact request {request_id}")
    return req


async def _record(
    uow: CollabUnitOfWork,
    req: ContactRequest,
    events: list[DomainEvent],
    metadata: Metadata,
    dated: bool = False,
) -> None:
    # keyed by the account, so a request's story is ordered with the account's other events
    events = await record(
        uow, stream(req.request_id), req.version, events, metadata, req.account_id, dated=dated
    )
    for e in events:
        req.apply(e)
    await uow.requests.save(req)


async def _outcome(uow: CollabUnitOfWork, req: ContactRequest) -> Outcome:
    view = await uow.requests.get(req.request_id)
    assert view is not None
    return Outcome(view, req.version)


async def request(cmd: c.RequestContact, uow: CollabUnitOfWork, ctx: Context) -> Outcome:
    account = await accounts.load(uow, cmd.account_id)
    permissions.require_request_contact(ctx.actor, account.owning_region)
    event = request_contact(cmd, account.owning_region, ctx.actor, ctx.now)
    req = ContactRequest(cmd.request_id, account_id=cmd.account_id)
    await _record(uow, req, [event], ctx.metadata, ctx.dated)
    return await _outcome(uow, req)


async def _decide_on(
    uow: CollabUnitOfWork, request_id: str, ctx: Context
) -> tuple[ContactRequest, str]:
    """The request and its account's owning region now (it may have moved since the request)."""
    req = await load(uow, request_id)
    account = await accounts.load(uow, req.account_id)
    permissions.require_decide_contact(ctx.actor, account.owning_region)
    check_version(ctx, req.version, "contact request")
    return req, account.owning_region


async def approve(cmd: c.ApproveContact, uow: CollabUnitOfWork, ctx: Context) -> Outcome:
    req, owner = await _decide_on(uow, cmd.request_id, ctx)
    await _record(uow, req, req.approve(cmd, owner, ctx.actor, ctx.now), ctx.metadata, ctx.dated)
    return await _outcome(uow, req)


async def reject(cmd: c.RejectContact, uow: CollabUnitOfWork, ctx: Context) -> Outcome:
    req, owner = await _decide_on(uow, cmd.request_id, ctx)
    await _record(uow, req, req.reject(cmd, owner, ctx.actor, ctx.now), ctx.metadata, ctx.dated)
    return await _outcome(uow, req)


async def expire_due(
    uow: CollabUnitOfWork, now: datetime, metadata: Metadata, limit: int = 100
) -> int:
    """Append ContactGrantExpired for grants whose time is up; returns how many expired.

    Rows are claimed with FOR UPDATE SKIP LOCKED, so concurrent schedulers share the work; the
    stream's expected version is the last guard against expiring one grant twice.
    """
    expired = 0
    for request_id in await uow.requests.claim_due(now, limit):
        req = await load(uow, request_id)
        events = req.expire(now)
        if not events:
            continue
        try:
            await _record(uow, req, events, metadata)
        except ConcurrencyError:
            continue  # another writer moved the stream on: it is not ours to expire
        expired += 1
    return expired
