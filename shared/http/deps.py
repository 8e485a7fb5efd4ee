"""Request dependencies every service shares: If-Match as an expected stream version."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header

from shared.errors import ValidationFailedError

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


async def if_match(
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


IfMatch = Annotated[int | None, Depends(if_match)]
