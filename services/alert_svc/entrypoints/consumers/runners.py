"""alert_svc's consumer groups: pipeline events (subjects and timers), the org directory,
and reps' health scores for risk reports."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.alert_svc.application.projection import (
    ORG_EVENTS,
    PIPELINE_EVENTS,
    SCORING_EVENTS,
    Projector,
)
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.messaging.consumer import ConsumerRunner
from shared.settings import Settings

PIPELINE_GROUP = "alert-pipeline"
ORG_GROUP = "alert-org"
SCORING_GROUP = "alert-scoring"


def build(
    engine: AsyncEngine, settings: Settings, registry: EventRegistry, clock: Clock
) -> list[ConsumerRunner]:
    """Separate groups, so the directory keeps up even while the pipeline group is busy."""
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
        ConsumerRunner(
            engine,
            settings,
            registry,
            SCORING_GROUP,
            [settings.topic("scoring")],
            dict.fromkeys(SCORING_EVENTS, projector.on_scoring),
        ),
    ]
