"""Bearer JWT authentication: HS256 with a configured secret, or RS256 against a JWKS URL."""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from typing import Any, Literal

import jwt

from shared.errors import UnauthorizedError
from shared.identity import ROLES, Principal

#: default tolerance for clock differences on `exp` (setting `SIGHTLINE_JWT_LEEWAY_S`)
LEEWAY_S = 30
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
CACHE_SIZE = 4096


def issue_token(
    secret: str,
    *,
    sub: str,
    role: str,
    region: str,
    team: str,
    ttl_s: int = 8 * 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """Sign a development/test token (HS256)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "role": role,
        "region": region,
        "team": team,
        "iat": now,
        "exp": now + ttl_s,
    }
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    """Verifies a bearer token; never accepts `alg: none` or an algorithm other than configured."""

    def __init__(
        self,
        *,
        algorithm: Literal["HS256", "RS256"] = "HS256",
        secret: str | None = None,
        jwks_url: str | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        leeway_s: float = LEEWAY_S,
    ) -> None:
        self._algorithm = algorithm
        self._leeway = leeway_s
        self._secret = secret
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._audience = audience
        self._issuer = issuer
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        if algorithm == "HS256" and not secret:
            raise ValueError("HS256 needs a secret")
        if algorithm == "RS256" and self._jwks is None:
            raise ValueError("RS256 needs a JWKS URL")
        if algorithm == "RS256" and not (audience and issuer):
            # an identity provider signs tokens for many audiences: accept only ours
            raise ValueError("RS256 needs the expected audience and issuer")
        required = ["sub", "exp"]
        required += ["aud"] if audience else []
        required += ["iss"] if issuer else []
        self._required = required

    async def verify_async(self, token: str) -> Principal:
        """Verify without blocking the event loop: JWKS fetches run in a thread."""
        cached = self._cached(token)
        if cached is not None:
            return cached
        if self._jwks is not None:
            return await asyncio.to_thread(self.verify, token)
        return self.verify(token)

    def _cached(self, token: str) -> Principal | None:
        # a verified token stays valid until it expires: skip the signature check on repeats
        hit = self._verified.get(token)
        if hit is None:
            return None
        principal, exp = hit
        if exp + self._leeway <= time.time():
            self._verified.pop(token, None)
            return None
        self._verified.move_to_end(token)
        return principal

    def verify(self, token: str) -> Principal:
        cached = self._cached(token)
        if cached is not None:
            return cached
        try:
            key: Any = self._secret
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": self._required, "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthorizedError("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise UnauthorizedError(f"invalid token: {exc}") from None
        principal = principal_from_claims(claims)
        self._verified[token] = (principal, float(claims["exp"]))
        if len(self._verified) > CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    missing = [c for c in ("sub", "role", "region", "team") if not isinstance(claims.get(c), str)]
    if missing:
        raise UnauthorizedError(f"token lacks claims: {', '.join(missing)}")
    if claims["role"] not in ROLES:
        raise UnauthorizedError(f"unknown role {claims['role']!r}")
    if not all(claims[c] for c in ("sub", "region")):
        raise UnauthorizedError("token has empty sub or region")
    if any(_UNSTORABLE.search(claims[c]) for c in ("sub", "region", "team")):
        # they travel into event metadata and projections, which cannot hold such characters
        raise UnauthorizedError("token claims contain NUL or unpaired surrogate characters")
    return Principal(
        sub=claims["sub"], role=claims["role"], region=claims["region"], team=claims["team"]
    )
