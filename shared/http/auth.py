"""The bearer-token dependency: every route but health, metrics and docs depends on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from shared.auth import TokenVerifier
from shared.errors import UnauthorizedError
from shared.identity import Principal


class BearerPrincipal(HTTPBearer):
    """The HTTP bearer scheme (as OpenAPI documents it) resolved to the verified principal, in
    one dependency rather than a credentials dependency under a principal one."""

    def __init__(self) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="HTTPBearer",
            description="JWT with claims sub, role, region, team",
        )

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        # the header read as HTTPBearer reads it, without building its credentials model
        scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
        token = token.strip()
        if not token or scheme.lower() != "bearer":  # absent, or another scheme than bearer
            raise UnauthorizedError("a bearer token is required")
        verifier: TokenVerifier = request.app.state.verifier
        return await verifier.verify_async(token)


principal = BearerPrincipal()
CurrentPrincipal = Annotated[Principal, Depends(principal)]
