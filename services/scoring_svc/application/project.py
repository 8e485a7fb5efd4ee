"""The fact projection: consumer batch handler for the pipeline and collab events scoring reads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from services.scoring_svc.adapters import facts
from shared.contracts.pipeline import PIPELINE_EVENT_NAMES
from shared.events.envelope import Envelope

PIPELINE_FACTS = PIPELINE_EVENT_NAMES
COLLAB_FACTS = (
    "MemberAssigned",
    "AccountRegistered",
    "AccountOwnershipTransferred",
    "CrossRegionConflictDetected",
)


async def record_facts(conn: AsyncConnection, envs: Sequence[Envelope]) -> None:
    """The consumer's batch (its inbox rows claimed in the same transaction), in one statement."""
    await facts.save_many(conn, envs)


async def copy_facts(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
    """Rebuilds: the facts `record_facts` would write, copied in one go into a fresh table."""
    await facts.copy_many(conn, envelopes)
