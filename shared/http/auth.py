"""The bearer-token dependency: every route but health, metrics and docs depends on it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.auth import TokenVerifier
from shared.errors import UnauthorizedError
from shared.identity import Principal

_bearer = HTTPBearer(auto_error=False, description="JWT with claims sub, role, region, team")


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise UnauthorizedError("a bearer token is required")
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify_async(credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(principal)]
