"""Request dependencies every service shares: If-Match as an expected stream version."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header

from shared.errors import ValidationFailedError

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')

#: the If-Match header as a plain parameter (`if_match: IfMatchHeader = None`), for a route
#: that parses it itself with `expected_version` rather than through a dependency
IfMatchHeader = Annotated[
    str | None, Header(description='expected version, e.g. "3" (from the ETag)')
]


def expected_version(if_match: str | None) -> int | None:
    """The stream version an If-Match header expects; None for none or `*`."""
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match.strip())
    if not found:
        raise ValidationFailedError('If-Match must be a version ETag such as "3"', field="If-Match")
    return int(found.group(1))


async def if_match(if_match: IfMatchHeader = None) -> int | None:
    return expected_version(if_match)


IfMatch = Annotated[int | None, Depends(if_match)]
