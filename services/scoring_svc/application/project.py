"""The fact projection: consumer handler for the pipeline and collab events scoring reads."""

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


async def record_fact(conn: AsyncConnection, env: Envelope) -> None:
    """Runs in the inbox's transaction: a redelivery changes nothing."""
    await facts.save(conn, env)


async def record_facts(conn: AsyncConnection, envelopes: Sequence[Envelope]) -> None:
    """Rebuilds: the facts `record_fact` would write for each, copied in one go."""
    await facts.copy_many(conn, envelopes)
