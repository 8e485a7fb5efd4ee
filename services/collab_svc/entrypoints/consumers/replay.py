"""What `sightline replay collab` rebuilds: the cross-region timeline. The conflict policy is
refused: its output is events, not rows."""

from __future__ import annotations

from services.collab_svc.application import timeline
from services.collab_svc.entrypoints.consumers.runners import CONFLICTS_GROUP, TIMELINE_GROUP
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.replay.spec import Projection, Refusal, ReplayGroup, ReplayPlan
from shared.settings import Settings

CONFLICTS_REFUSED = (
    "it is a policy, not a projection: it appends CrossRegionConflictDetected events to collab's"
    " event store and outbox (new event ids, detection time from the clock), and its conflicts"
    " and pending-check tables follow those events; replaying it would raise them again"
)


def plan(settings: Settings, registry: EventRegistry, clock: Clock) -> ReplayPlan:
    # reads `accounts` (collab's own directory, written by its commands) for each entry's group
    timeline_projection = Projection(
        "timeline",
        ("timeline_entries",),
        (
            ReplayGroup(
                TIMELINE_GROUP,
                (settings.topic("pipeline"), settings.topic("collab")),
                dict.fromkeys(timeline.HANDLED, timeline.project),
                timeline.rebuild_many,
            ),
        ),
    )
    return ReplayPlan(
        "collab", (timeline_projection,), (Refusal(CONFLICTS_GROUP, CONFLICTS_REFUSED),)
    )
