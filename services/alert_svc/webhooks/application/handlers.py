"""The webhook commands: create, delete, replay a delivery; one handler each."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from services.alert_svc.webhooks.application.uow import WebhookUnitOfWork
from services.alert_svc.webhooks.domain import permissions
from services.alert_svc.webhooks.domain.errors import (
    DeliveryNotFoundError,
    SubscriptionNotFoundError,
    UnknownEventTypeError,
)
from services.alert_svc.webhooks.domain.subscriptions import (
    WILDCARD,
    CreateWebhook,
    new_secret,
    normal_types,
)
from shared.identity import Principal

#: raises UrlRefusedError when webhooks may not go to the URL (resolves the host)
UrlGuard = Callable[[str], Awaitable[object]]


async def create_webhook(
    uow: WebhookUnitOfWork,
    cmd: CreateWebhook,
    actor: Principal,
    now: datetime,
    known_event: Callable[[str], bool],
    guard: UrlGuard,
) -> dict[str, Any]:
    """The new subscription with its secret, which is shown this once."""
    permissions.require_manage(actor, cmd.region)
    unknown = [t for t in cmd.event_types if t != WILDCARD and not known_event(t)]
    if unknown:
        raise UnknownEventTypeError(
            f"unknown event type(s): {', '.join(unknown)}", field="event_types"
        )
    await guard(cmd.url)
    secret = new_secret()
    view = await uow.subscriptions.add(
        str(uuid.uuid4()),
        cmd.url,
        normal_types(cmd.event_types),
        cmd.region,
        cmd.description,
        secret,
        actor.sub,
        now,
    )
    return {**view, "secret": secret}


async def visible_subscription(
    uow: WebhookUnitOfWork, actor: Principal, subscription_id: str
) -> dict[str, Any]:
    view = await uow.subscriptions.get(subscription_id)
    if view is None:
        permissions.require_manage(actor, actor.region)  # a rep learns nothing either way
        raise SubscriptionNotFoundError(f"no webhook {subscription_id}")
    permissions.require_manage(actor, view["region"])
    return view


async def delete_webhook(
    uow: WebhookUnitOfWork, actor: Principal, subscription_id: str
) -> dict[str, Any]:
    """Gone with its pending deliveries and its log."""
    view = await visible_subscription(uow, actor, subscription_id)
    await uow.subscriptions.delete(subscription_id)
    return view


async def replay_delivery(
    uow: WebhookUnitOfWork,
    actor: Principal,
    subscription_id: str,
    delivery_id: str,
    budget: int,
    now: datetime,
) -> dict[str, Any]:
    """Sent again as soon as a worker is free, with the same webhook-id and a fresh budget."""
    await visible_subscription(uow, actor, subscription_id)
    if not await uow.deliveries.replay(subscription_id, delivery_id, budget, now):
        raise DeliveryNotFoundError(f"no delivery {delivery_id} of webhook {subscription_id}")
    items, _ = await uow.deliveries.page(subscription_id, None, None, 1, delivery_id)
    return items[0]
