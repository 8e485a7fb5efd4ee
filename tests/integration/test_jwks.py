"""RS256 tokens verified against a JWKS served over HTTP, as a real identity provider does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.auth import TokenVerifier
from shared.errors import UnauthorizedError

pytestmark = pytest.mark.integration
CLAIMS = {"sub": "rep-1", "role": "rep", "region": "east", "team": "east-1"}
AUDIENCE, ISSUER = "sightline", "https://idp.example.com/"


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", key
    finally:
        server.shutdown()


def token(key: object, **extra: object) -> str:
    claims = {**CLAIMS, "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 600, **extra}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})  # type: ignore[arg-type]


async def test_an_rs256_token_signed_by_the_provider_is_accepted(
    identity_provider: tuple[str, rsa.RSAPrivateKey],
) -> None:
    url, key = identity_provider
    verifier = TokenVerifier(algorithm="RS256", jwks_url=url, audience=AUDIENCE, issuer=ISSUER)
    principal = await verifier.verify_async(token(key))
    assert (principal.sub, principal.region) == ("rep-1", "east")


async def test_tokens_not_signed_by_the_provider_are_refused(
    identity_provider: tuple[str, rsa.RSAPrivateKey],
) -> None:
    url, _ = identity_provider
    verifier = TokenVerifier(algorithm="RS256", jwks_url=url, audience=AUDIENCE, issuer=ISSUER)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(UnauthorizedError):
        await verifier.verify_async(token(stranger))
    hs = jwt.encode(
        {**CLAIMS, "exp": int(time.time()) + 600},
        "a-shared-secret-of-some-length-000",
        headers={"kid": "k1"},
    )
    with pytest.raises(UnauthorizedError):
        await verifier.verify_async(hs)


@pytest.mark.parametrize("missing", ["aud", "iss"])
async def test_a_provider_token_without_audience_or_issuer_is_refused(
    identity_provider: tuple[str, rsa.RSAPrivateKey], missing: str
) -> None:
    url, key = identity_provider
    verifier = TokenVerifier(algorithm="RS256", jwks_url=url, audience=AUDIENCE, issuer=ISSUER)
    claims = {**CLAIMS, "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 600}
    del claims[missing]
    unscoped = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})  # type: ignore[arg-type]

    with pytest.raises(UnauthorizedError, match=missing):
        await verifier.verify_async(unscoped)


async def test_a_provider_token_for_another_audience_is_refused(
    identity_provider: tuple[str, rsa.RSAPrivateKey],
) -> None:
    url, key = identity_provider
    verifier = TokenVerifier(algorithm="RS256", jwks_url=url, audience=AUDIENCE, issuer=ISSUER)

    with pytest.raises(UnauthorizedError):
        await verifier.verify_async(token(key, aud="another-app"))
