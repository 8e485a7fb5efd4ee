"""Dependencies of the pipeline routes: the application service, the command context."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Header, Request

from shared.errors import ValidationFailedError

if TYPE_CHECKING:
    from services.pipeline_svc.bootstrap import PipelineService

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def service(request: Request) -> PipelineService:
    return request.app.state.pipeline  # type: ignore[no-any-return]


def if_match(
    if_match: Annotated[
        str | None, Header(description='expected version, e.g. "3" (from the ETag)')
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if not found:
        raise ValidationFailedError('If-Match must be a version ETag such as "3"', field="If-Match")
    return int(found.group(1))


Pipeline = Annotated["PipelineService", Depends(service)]
IfMatch = Annotated[int | None, Depends(if_match)]
