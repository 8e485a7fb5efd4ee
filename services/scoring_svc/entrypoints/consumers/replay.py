"""What `sightline replay scoring` rebuilds: the fact table, from both topics at once.

Both groups write `scoring_facts` and nothing else (one row per event, keyed by event id), so
the table is rebuilt from the pipeline and collab topics together and swapped in one step.
"""

from __future__ import annotations

from services.scoring_svc.application.project import (
    COLLAB_FACTS,
    PIPELINE_FACTS,
    copy_facts,
    record_facts,
)
from services.scoring_svc.entrypoints.consumers.runners import COLLAB_GROUP, PIPELINE_GROUP
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.messaging.consumer import one_at_a_time
from shared.replay.spec import Projection, ReplayGroup, ReplayPlan
from shared.settings import Settings


def plan(settings: Settings, registry: EventRegistry, clock: Clock) -> ReplayPlan:
    facts = Projection(
        "facts",
        ("scoring_facts",),
        (
            ReplayGroup(
                PIPELINE_GROUP,
                (settings.topic("pipeline"),),
                dict.fromkeys(PIPELINE_FACTS, one_at_a_time(record_facts)),
                copy_facts,
            ),
            ReplayGroup(
                COLLAB_GROUP,
                (settings.topic("collab"),),
                dict.fromkeys(COLLAB_FACTS, one_at_a_time(record_facts)),
                copy_facts,
            ),
        ),
    )
    return ReplayPlan("scoring", (facts,))
