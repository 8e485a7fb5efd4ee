"""Activity sync from email and phone logs: matched by contact, idempotent by external id.

Such contacts already happened, so they are recorded even when they break the region rule;
the collaboration service then raises the conflict, against every account the contact reaches
(see `domain/matching.py` for which deal the log lands on).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.pipeline_svc.application.handlers import load, record
from services.pipeline_svc.application.playbooks import Playbooks
from services.pipeline_svc.application.uow import PipelineUnitOfWork
from services.pipeline_svc.domain import commands as c
from services.pipeline_svc.domain.matching import choose
from shared.context import Context
from shared.errors import ConcurrencyError
from shared.identity import Principal


@dataclass(frozen=True)
class SyncedLog:
    external_id: str
    channel: Literal["email", "phone"]
    contact: str
    occurred_at: datetime
    actor_id: str
    actor_region: str
    summary: str = ""


@dataclass(frozen=True)
class IngestResult:
    external_id: str
    status: Literal["created", "duplicate", "unmatched"]
    opportunity_id: str | None = None
    activity_id: str | None = None


async def ingest_log(
    log: SyncedLog, uow: PipelineUnitOfWork, ctx: Context, playbooks: Playbooks
) -> IngestResult:
    done = await uow.directory.ingested(log.external_id)
    if done is not None:
        return IngestResult(log.external_id, "duplicate", *done)
    match = choose(*await uow.directory.reached_by(log.contact))
    if match is None:
        return IngestResult(log.external_id, "unmatched")
    opp_id = match.opportunity_id
    opp = await load(uow, opp_id)
    pb = await playbooks.current(uow)
    rep = Principal(sub=log.actor_id, role="rep", region=log.actor_region, team="")
    cmd = c.LogActivity(
        opportunity_id=opp_id,
        activity_id=str(uuid.uuid4()),
        kind="email" if log.channel == "email" else "call",
        occurred_at=log.occurred_at,
        contacts=[log.contact],
        summary=log.summary,
        source="email_sync" if log.channel == "email" else "phone_sync",
        external_id=log.external_id,
        matched_accounts=match.other_accounts,
    )
    events = opp.log_activity(cmd, pb.definition, rep, ctx.now)
    await record(uow, opp, events, ctx, pb)
    if not await uow.directory.mark_ingested(log.external_id, opp_id, cmd.activity_id):
        raise ConcurrencyError(f"log {log.external_id} is being ingested concurrently")
    return IngestResult(log.external_id, "created", opp_id, cmd.activity_id)
