"""Collab's consumer groups: the timeline projection and the conflict policy."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from services.collab_svc.application import timeline
from services.collab_svc.application.conflicts import HANDLED as CONFLICT_EVENTS
from services.collab_svc.application.conflicts import ConflictPolicy
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.messaging.consumer import ConsumerRunner
from shared.settings import Settings

TIMELINE_GROUP = "collab-timeline"
CONFLICTS_GROUP = "collab-conflicts"


def build(
    engine: AsyncEngine, settings: Settings, registry: EventRegistry, clock: Clock
) -> list[ConsumerRunner]:
    """Two groups, so a fault in one (dead letters, lag) never holds up the other."""
    topics = [settings.topic("pipeline"), settings.topic("collab")]
    policy = ConflictPolicy(registry, clock)
    return [
        ConsumerRunner(
            engine,
            settings,
            registry,
            TIMELINE_GROUP,
            topics,
            {},
            batch_handlers=dict.fromkeys(timeline.HANDLED, timeline.project_many),
        ),
        ConsumerRunner(
            engine,
            settings,
            registry,
            CONFLICTS_GROUP,
            topics,
            {},
            batch_handlers=dict.fromkeys(CONFLICT_EVENTS, policy.handle_many),
        ),
    ]
