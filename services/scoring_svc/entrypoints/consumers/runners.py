"""Scoring's consumer groups: one per topic, so a backlog on one never holds up the other."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.scoring_svc.application.project import COLLAB_FACTS, PIPELINE_FACTS, record_facts
from shared.events.registry import EventRegistry
from shared.messaging.consumer import ConsumerRunner
from shared.settings import Settings

PIPELINE_GROUP = "scoring-pipeline"
COLLAB_GROUP = "scoring-collab"


def build(engine: AsyncEngine, settings: Settings, registry: EventRegistry) -> list[ConsumerRunner]:
    return [
        ConsumerRunner(
            engine,
            settings,
            registry,
            PIPELINE_GROUP,
            [settings.topic("pipeline")],
            {},
            batch_handlers=dict.fromkeys(PIPELINE_FACTS, record_facts),
        ),
        ConsumerRunner(
            engine,
            settings,
            registry,
            COLLAB_GROUP,
            [settings.topic("collab")],
            {},
            batch_handlers=dict.fromkeys(COLLAB_FACTS, record_facts),
        ),
    ]
