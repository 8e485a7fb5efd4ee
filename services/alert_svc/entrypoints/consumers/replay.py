"""What `sightline replay alert` rebuilds: the member directory and reps' latest health scores.

The pipeline group is refused: besides its subject tables it plans deadline timers against the
clock and resolves alerts by appending AlertResolved events. The webhook dispatcher sends
HTTP requests to partners.
"""

from __future__ import annotations

from services.alert_svc.application.projection import ORG_EVENTS, SCORING_EVENTS, Projector
from services.alert_svc.entrypoints.consumers.runners import (
    ORG_GROUP,
    PIPELINE_GROUP,
    SCORING_GROUP,
)
from services.alert_svc.webhooks.bootstrap import GROUP as WEBHOOK_GROUP
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.replay.spec import Projection, Refusal, ReplayGroup, ReplayPlan
from shared.settings import Settings

PIPELINE_REFUSED = (
    "besides its subject tables it plans and cancels deadline timers against the clock and"
    " resolves open alerts by appending AlertResolved events to alert's event store and outbox;"
    " replaying it would re-plan timers as of today and resolve or raise alerts again"
)
WEBHOOKS_REFUSED = "it delivers events to partners' webhooks: replaying it would send them again"


def plan(settings: Settings, registry: EventRegistry, clock: Clock) -> ReplayPlan:
    projector = Projector(registry, clock)
    # both upsert one row per member, keeping the latest by business time: order-independent
    directory = Projection(
        "directory",
        ("alert_members",),
        (
            ReplayGroup(
                ORG_GROUP,
                (settings.topic("collab"),),
                dict.fromkeys(ORG_EVENTS, projector.on_org),
            ),
        ),
    )
    health = Projection(
        "health",
        ("alert_health",),
        (
            ReplayGroup(
                SCORING_GROUP,
                (settings.topic("scoring"),),
                dict.fromkeys(SCORING_EVENTS, projector.on_scoring),
            ),
        ),
    )
    return ReplayPlan(
        "alert",
        (directory, health),
        (Refusal(PIPELINE_GROUP, PIPELINE_REFUSED), Refusal(WEBHOOK_GROUP, WEBHOOKS_REFUSED)),
    )
