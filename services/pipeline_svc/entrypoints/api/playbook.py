"""`GET/PUT /playbook`: the playbook in force; admins publish a new version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services.pipeline_svc.application.uow import PipelineUnitOfWork
from services.pipeline_svc.domain import permissions
from services.pipeline_svc.entrypoints.api import schemas as s
from services.pipeline_svc.entrypoints.api.deps import Pipeline
from shared.contracts.playbook import PlaybookDefinition
from shared.http.auth import CurrentPrincipal
from shared.http.commands import CommandResult, execute
from shared.http.deps import IfMatch
from shared.problems_doc import PROBLEMS

router = APIRouter(prefix="/playbook", tags=["playbook"])


@router.get(
    "",
    operation_id="getPlaybook",
    summary="The playbook in force (销售作战地图)",
    response_model=s.PlaybookRead,
    responses=PROBLEMS,
)
async def get_playbook(
    svc: Pipeline, _actor: CurrentPrincipal, response: Response
) -> dict[str, Any]:
    async with svc.uow() as uow:
        pb = await svc.playbooks.current(uow)
    response.headers["ETag"] = f'"{pb.version}"'
    return {"version": pb.version, "definition": pb.definition.model_dump(mode="json")}


@router.put(
    "",
    operation_id="publishPlaybook",
    summary="Publish a new playbook version (admins)",
    response_model=s.PlaybookRead,
    responses=PROBLEMS,
)
async def publish_playbook(
    body: PlaybookDefinition,
    request: Request,
    svc: Pipeline,
    actor: CurrentPrincipal,
    expected: IfMatch,
) -> Response:
    permissions.require_admin(actor)

    async def handler(uow: PipelineUnitOfWork) -> CommandResult:
        ctx = svc.context(actor, expected)
        pb = await svc.playbooks.publish(uow, body, actor.sub, ctx.metadata, expected, ctx.now)
        return CommandResult(
            200,
            {"version": pb.version, "definition": pb.definition.model_dump(mode="json")},
            {"ETag": f'"{pb.version}"'},
        )

    response = await execute(request, actor, svc.uow, handler, retry_on_conflict=expected is None)
    svc.playbooks.forget()
    return response
