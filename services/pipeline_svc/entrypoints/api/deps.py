"""Dependencies of the pipeline routes: the application service, the command context."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from services.pipeline_svc.bootstrap import PipelineService


async def service(request: Request) -> PipelineService:
    return request.app.state.pipeline  # type: ignore[no-any-return]


Pipeline = Annotated["PipelineService", Depends(service)]
