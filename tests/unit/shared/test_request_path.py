"""A command's path (its Idempotency-Key scope, a problem's `instance`) read from the scope."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from shared.http.commands import request_path


@pytest.mark.parametrize(
    "path", ["/opportunities/a/activities", "/x/a%3Fb", "/x/a?b#c\\d", "//double", "/é/ü", "/"]
)
def test_a_commands_path_is_the_one_starlettes_url_gives(path: str) -> None:
    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"host", b"h:8")]}
    request = Request(scope)
    assert request_path(request) == request.url.path
