"""alert_svc's consumer groups: pipeline events (subjects and timers) and the org directory."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.alert_svc.application.projection import ORG_EVENTS, PIPELINE_EVENTS, Projector
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.messaging.consumer import ConsumerRunner
from shared.settings import Settings

PIPELINE_GROUP = "alert-pipeline"
ORG_GROUP = "alert-org"


def build(
    engine: AsyncEngine, settings: Settings, registry: EventRegistry, clock: Clock
) -> list[ConsumerRunner]:
    """Two groups, so the directory keeps up even while the pipeline group is busy or failing."""
    projector = Projector(registry, clock)
    return [
        ConsumerRunner(
            engine,
            settings,
            registry,
            PIPELINE_GROUP,
            [settings.topic("pipeline")],
            dict.fromkeys(PIPELINE_EVENTS, projector.on_pipeline),
        ),
        ConsumerRunner(
            engine,
            settings,
            registry,
            ORG_GROUP,
            [settings.topic("collab")],
            dict.fromkeys(ORG_EVENTS, projector.on_org),
        ),
    ]
