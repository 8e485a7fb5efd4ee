"""What `sightline replay pipeline` rebuilds: nothing yet. Its one consumer group is refused."""

from __future__ import annotations

from services.pipeline_svc.adapters.collab import COLLAB_GROUP
from shared.clock import Clock
from shared.events.registry import EventRegistry
from shared.replay.spec import Refusal, ReplayPlan
from shared.settings import Settings

COLLAB_REFUSED = (
    "it writes contact_points and the opportunity views, which the pipeline's own commands write"
    " too (deal contacts, the views themselves); a table rebuilt from collab.events alone would"
    " lose what the commands wrote"
)


def plan(settings: Settings, registry: EventRegistry, clock: Clock) -> ReplayPlan:
    return ReplayPlan("pipeline", (), (Refusal(COLLAB_GROUP, COLLAB_REFUSED),))
