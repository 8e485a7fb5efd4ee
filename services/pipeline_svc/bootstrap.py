"""Composition root of pipeline_svc: settings, engine, migrations, relay, routes."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

import shared.contracts  # noqa: F401 - registers the event catalogue
from services.pipeline_svc.adapters.collab import COLLAB_GROUP, COLLAB_HANDLED, apply_collab_event
from services.pipeline_svc.application.playbooks import Playbooks
from services.pipeline_svc.application.uow import PipelineUnitOfWork, snapshot_cache
from services.pipeline_svc.domain.opportunity import Opportunity
from services.pipeline_svc.entrypoints.api import ingest, opportunities, playbook
from shared.business_time import BusinessTimePolicy
from shared.clock import Clock, SystemClock
from shared.context import Context, context_for
from shared.events.envelope import Metadata
from shared.events.registry import registry
from shared.http.app import build_app
from shared.identity import Principal
from shared.messaging.consumer import ConsumerRunner
from shared.runtime.lifespan import service_lifespan
from shared.settings import Settings
from shared.store.snapshots import SnapshotCache

MIGRATIONS = Path(__file__).parent / "migrations"


class PipelineService:
    """What the routes need: a unit-of-work factory, the playbook, the clock."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        policy: BusinessTimePolicy | None = None,
        snapshot_bytes: int = Settings.model_fields["snapshot_cache_bytes"].default,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.policy = policy or BusinessTimePolicy()
        self.playbooks = Playbooks()
        self.snapshots: SnapshotCache[Opportunity] = snapshot_cache(snapshot_bytes)

    def uow(self) -> PipelineUnitOfWork:
        return PipelineUnitOfWork(self.engine, registry, self.clock, self.snapshots)

    def deferred_uow(self) -> PipelineUnitOfWork:
        """For the deal commands and reads: statements outside a transaction, a command's write
        one guarded append that commits on its own, unless the command begins a transaction
        (an Idempotency-Key, a stage move, stakeholder contacts)."""
        return PipelineUnitOfWork(self.engine, registry, self.clock, self.snapshots, deferred=True)

    def context(
        self,
        actor: Principal,
        expected_version: int | None = None,
        occurred_at: datetime | None = None,
        *,
        activity: bool = False,
    ) -> Context:
        """The command's context; `occurred_at` (business time) is checked by the policy."""
        at = None
        if occurred_at is not None:
            at = self.policy.resolve(actor, occurred_at, self.clock.now(), activity=activity)
        return context_for(actor, self.clock, expected_version, at)

    async def seed(self) -> None:
        async with self.uow() as uow:
            meta = Metadata(actor="system")
            if await self.playbooks.seed(uow, meta, self.clock.now()):
                await uow.commit()


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()

    async def setup(app: FastAPI, engine: AsyncEngine) -> list[Coroutine[Any, Any, None]]:
        svc = PipelineService(
            engine, clock, settings.business_time_policy(), settings.snapshot_cache_bytes
        )
        await svc.seed()
        app.state.pipeline = svc
        handlers = dict.fromkeys(COLLAB_HANDLED, apply_collab_event)
        collab = ConsumerRunner(
            engine, settings, registry, COLLAB_GROUP, [settings.topic("collab")], handlers
        )
        app.state.consumers = [collab]
        return [collab.run()]

    return build_app(
        settings,
        title="Sightline pipeline",
        description=(
            "The playbook (销售作战地图) and its stage gates: a deal may not leave a stage until "
            "its action package is complete. Commands accept `Idempotency-Key` and `If-Match`."
        ),
        version="1.0.0",
        lifespan=service_lifespan(settings, MIGRATIONS, clock, setup),
        routers=[opportunities.router, playbook.router, ingest.router],
    )
