"""Wiring of the webhooks: the API's service, the dispatcher consumer and the delivery worker.

`services/alert_svc/bootstrap.py` includes `router` and wraps its lifespan setup in `around`.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.alert_svc.webhooks.adapters.sender import WebhookSender, guard
from services.alert_svc.webhooks.application.dispatch import Dispatcher
from services.alert_svc.webhooks.application.uow import WebhookUnitOfWork
from services.alert_svc.webhooks.application.worker import DeliveryWorker
from services.alert_svc.webhooks.domain.retries import RetryPolicy
from services.alert_svc.webhooks.domain.urls import AllowList, IPAddress
from services.alert_svc.webhooks.entrypoints.api import router
from shared.clock import Clock
from shared.events.registry import EventRegistry, registry
from shared.messaging.consumer import ConsumerRunner
from shared.runtime.lifespan import Setup, no_workers
from shared.settings import Settings

__all__ = ["GROUP", "WebhookService", "around", "router"]
GROUP = "alert-webhooks"


class WebhookService:
    """What the routes and workers share: database, clock, allow list, retry policy."""

    def __init__(
        self, engine: AsyncEngine, settings: Settings, clock: Clock, events: EventRegistry
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.events = events
        self.allow = AllowList.parse(settings.webhook_allowed_hosts)
        self.policy = RetryPolicy(
            settings.webhook_max_attempts,
            settings.webhook_base_delay_s,
            settings.webhook_max_delay_s,
        )

    def uow(self) -> WebhookUnitOfWork:
        return WebhookUnitOfWork(self.engine, self.events, self.clock)

    def knows_event(self, name: str) -> bool:
        return self.events.knows(name)

    async def guard(self, url: str) -> list[IPAddress]:
        return await guard(self.allow, url)

    def topics(self) -> list[str]:
        extra = (t.strip() for t in self.settings.webhook_extra_topics.split(","))
        return list(dict.fromkeys([self.settings.topic("alert"), *(t for t in extra if t)]))

    def dispatcher(self) -> ConsumerRunner:
        """One group over the topics, a handler for every event type this process knows."""
        handle = Dispatcher(self.clock, self.policy.max_attempts).handle
        names = {model.event_name for model in self.events}
        return ConsumerRunner(
            self.engine,
            self.settings,
            self.events,
            GROUP,
            self.topics(),
            dict.fromkeys(names, handle),
        )

    def worker(self) -> DeliveryWorker:
        return DeliveryWorker(
            self.engine,
            self.settings.database_url or "",
            WebhookSender(self.allow, self.settings.webhook_timeout_s),
            self.policy,
            self.clock,
            self.settings.webhook_poll_interval_s,
        )


def around(
    settings: Settings, clock: Clock, setup: Setup = no_workers, events: EventRegistry = registry
) -> Setup:
    """The service's own setup, plus the webhooks' state and their two background workers."""

    async def with_webhooks(app: FastAPI, engine: AsyncEngine) -> list[Coroutine[Any, Any, None]]:
        workers = await setup(app, engine)
        svc = WebhookService(engine, settings, clock, events)
        dispatcher, worker = svc.dispatcher(), svc.worker()
        app.state.webhooks = svc
        app.state.webhook_dispatcher = dispatcher
        app.state.webhook_worker = worker
        return [*workers, dispatcher.run(), worker.run()]

    return with_webhooks
