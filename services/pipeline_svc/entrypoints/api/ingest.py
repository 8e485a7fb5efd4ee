"""`POST /ingest/activities`: batch sync of email and phone logs (partner role)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field

from services.pipeline_svc.application.ingest import SyncedLog, ingest_log
from services.pipeline_svc.domain.errors import NotPermittedError
from services.pipeline_svc.entrypoints.api.deps import Pipeline
from services.pipeline_svc.entrypoints.api.schemas import Id, LongText, Strict
from shared.errors import ConcurrencyError
from shared.http.auth import CurrentPrincipal
from shared.http.types import BusinessDateTime
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/ingest", tags=["ingestion"])
ATTEMPTS = 4


class LogIn(Strict):
    external_id: Annotated[str, Field(min_length=1, max_length=200)]
    channel: Literal["email", "phone"]
    contact: Annotated[str, Field(min_length=3, max_length=320, description="email or phone")]
    occurred_at: BusinessDateTime
    actor_id: Id
    actor_region: Id
    summary: LongText = ""


class IngestBatch(Strict):
    logs: list[LogIn] = Field(min_length=1, max_length=500)


@router.post(
    "/activities",
    operation_id="ingestActivities",
    summary="Sync email/phone logs as activities; idempotent by external id",
    responses=PROBLEMS,
)
async def ingest_activities(
    body: IngestBatch, svc: Pipeline, actor: CurrentPrincipal
) -> dict[str, Any]:
    if actor.role not in ("partner", "admin"):
        raise NotPermittedError("activity sync is for integration partners")
    results = []
    for item in body.logs:
        log = SyncedLog(**item.model_dump())
        for attempt in range(ATTEMPTS):
            try:
                async with svc.uow() as uow:
                    result = await ingest_log(log, uow, svc.context(actor), svc.playbooks)
                    await uow.commit()
                break
            except ConcurrencyError:
                if attempt == ATTEMPTS - 1:
                    raise
        results.append(asdict(result))
    counts = {
        s: sum(1 for r in results if r["status"] == s)
        for s in ("created", "duplicate", "unmatched")
    }
    return {"results": results, **counts}
