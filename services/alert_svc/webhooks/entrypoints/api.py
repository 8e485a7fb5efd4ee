"""The webhook routes: subscriptions for admins and regional managers, their delivery log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from services.alert_svc.webhooks.application import handlers
from services.alert_svc.webhooks.application.uow import WebhookUnitOfWork
from services.alert_svc.webhooks.domain import permissions
from services.alert_svc.webhooks.domain.subscriptions import CreateWebhook
from services.alert_svc.webhooks.entrypoints import schemas as s
from shared.http.auth import CurrentPrincipal
from shared.http.commands import CommandResult, execute
from shared.problems_doc import PROBLEMS

if TYPE_CHECKING:
    from services.alert_svc.webhooks.bootstrap import WebhookService

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


async def service(request: Request) -> WebhookService:
    return request.app.state.webhooks  # type: ignore[no-any-return]


Webhooks = Annotated["WebhookService", Depends(service)]
Cursor = Annotated[str | None, Query(max_length=300)]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    "",
    operation_id="createWebhook",
    summary="Subscribe a URL to events (by type, optionally by region); returns the secret once",
    status_code=201,
    response_model=s.WebhookCreated,
    responses=PROBLEMS,
)
async def create_webhook(
    body: s.WebhookCreate, request: Request, svc: Webhooks, actor: CurrentPrincipal
) -> Response:
    cmd = CreateWebhook(body.url, tuple(body.event_types), body.region, body.description)

    async def handler(uow: WebhookUnitOfWork) -> CommandResult:
        view = await handlers.create_webhook(
            uow, cmd, actor, svc.clock.now(), svc.knows_event, svc.guard
        )
        return CommandResult(201, view, {"Location": f"/webhooks/{view['subscription_id']}"})

    return await execute(request, actor, svc.uow, handler)


@router.get(
    "",
    operation_id="listWebhooks",
    summary="Subscriptions, oldest first: all for admins, their region's for regional managers",
    response_model=s.Page[s.WebhookRead],
    responses=PROBLEMS,
)
async def list_webhooks(
    svc: Webhooks,
    actor: CurrentPrincipal,
    region: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    of = permissions.visible_region(actor, region)
    async with svc.uow() as uow:
        items, nxt = await uow.subscriptions.page(of, cursor, limit)
    return {"items": items, "next_cursor": nxt}


@router.get(
    "/{subscription_id}",
    operation_id="getWebhook",
    summary="One subscription (without its secret)",
    response_model=s.WebhookRead,
    responses=PROBLEMS,
)
async def get_webhook(
    subscription_id: UUID, svc: Webhooks, actor: CurrentPrincipal
) -> dict[str, Any]:
    async with svc.uow() as uow:
        return await handlers.visible_subscription(uow, actor, str(subscription_id))


@router.delete(
    "/{subscription_id}",
    operation_id="deleteWebhook",
    summary="Unsubscribe: pending deliveries are dropped with the delivery log",
    status_code=204,
    response_class=Response,
    responses=PROBLEMS,
)
async def delete_webhook(subscription_id: UUID, svc: Webhooks, actor: CurrentPrincipal) -> Response:
    async with svc.uow() as uow:
        await handlers.delete_webhook(uow, actor, str(subscription_id))
        await uow.commit()
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    operation_id="listWebhookDeliveries",
    summary="The delivery log, newest first: each delivery's attempts, codes, errors, next try",
    response_model=s.Page[s.DeliveryRead],
    responses=PROBLEMS,
)
async def list_deliveries(
    subscription_id: UUID,
    svc: Webhooks,
    actor: CurrentPrincipal,
    status: Annotated[s.DeliveryStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    async with svc.uow() as uow:
        await handlers.visible_subscription(uow, actor, str(subscription_id))
        items, nxt = await uow.deliveries.page(str(subscription_id), status, cursor, limit)
    return {"items": items, "next_cursor": nxt}


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    operation_id="replayWebhookDelivery",
    summary="Send a delivery again (same webhook-id), with a fresh budget of attempts",
    status_code=202,
    response_model=s.DeliveryRead,
    responses=PROBLEMS,
)
async def replay_delivery(
    subscription_id: UUID,
    delivery_id: UUID,
    request: Request,
    svc: Webhooks,
    actor: CurrentPrincipal,
) -> Response:
    async def handler(uow: WebhookUnitOfWork) -> CommandResult:
        view = await handlers.replay_delivery(
            uow,
            actor,
            str(subscription_id),
            str(delivery_id),
            svc.policy.max_attempts,
            svc.clock.now(),
        )
        return CommandResult(202, view)

    return await execute(request, actor, svc.uow, handler)
