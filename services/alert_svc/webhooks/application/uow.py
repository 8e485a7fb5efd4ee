"""The webhooks' unit of work: subscriptions, deliveries and idempotency keys in one transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.alert_svc.webhooks.adapters.deliveries import Deliveries
from services.alert_svc.webhooks.adapters.subscriptions import Subscriptions
from shared.store.uow import SqlUnitOfWork


class WebhookUnitOfWork(SqlUnitOfWork):
    subscriptions: Subscriptions
    deliveries: Deliveries

    def bind(self, conn: AsyncConnection) -> None:
        self.subscriptions = Subscriptions(conn)
        self.deliveries = Deliveries(conn)
