"""Dependencies of the pipeline routes: the application service, the command context."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

if TYPE_CHECKING:
    from services.pipeline_svc.bootstrap import PipelineService


def pipeline(request: Request) -> PipelineService:
    """The application service; the deal command routes call it rather than depend on it (a
    dependency costs each request more than the attribute it reads)."""
    return request.app.state.pipeline  # type: ignore[no-any-return]


async def service(request: Request) -> PipelineService:
    return pipeline(request)


Pipeline = Annotated["PipelineService", Depends(service)]
