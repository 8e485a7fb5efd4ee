"""Bearer tokens: what the verifier accepts and refuses, and which JWT secrets settings allow."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from shared.auth import LEEWAY_S, TokenVerifier, issue_token
from shared.errors import UnauthorizedError
from shared.identity import Principal
from shared.settings import DEV_JWT_SECRET, Settings

SECRET = "test-secret-of-at-least-thirty-two-characters"
CLAIMS: dict[str, Any] = {"sub": "rep-east-1", "role": "rep", "region": "east", "team": "east-a"}


def verifier(**options: Any) -> TokenVerifier:
    return TokenVerifier(algorithm="HS256", secret=SECRET, **options)


def signed(claims: dict[str, Any], *, secret: str = SECRET, ttl_s: int = 3600) -> str:
    """A token with exactly these claims (plus iat/exp), signed HS256."""
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + ttl_s, **claims}, secret, algorithm="HS256")


def b64url(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def refused(token: str, match: str = "", **options: Any) -> UnauthorizedError:
    with pytest.raises(UnauthorizedError, match=match) as caught:
        verifier(**options).verify(token)
    assert caught.value.status == 401
    return caught.value


class TestAccepted:
    def test_an_issued_token_verifies_to_its_principal(self) -> None:
        token = issue_token(SECRET, **CLAIMS)

        assert verifier().verify(token) == Principal(
            sub="rep-east-1", role="rep", region="east", team="east-a"
        )

    def test_issuer_and_audience_are_checked_when_configured(self) -> None:
        token = issue_token(SECRET, **CLAIMS, issuer="sightline", audience="pipeline")

        principal = verifier(issuer="sightline", audience="pipeline").verify(token)

        assert principal.sub == "rep-east-1"

    def test_a_token_expired_within_the_leeway_is_still_accepted(self) -> None:
        token = issue_token(SECRET, **CLAIMS, ttl_s=-(LEEWAY_S - 10))

        assert verifier().verify(token).role == "rep"


class TestRefused:
    def test_a_token_signed_with_another_secret_is_refused(self) -> None:
        token = issue_token("another-secret-of-at-least-thirty-two-chars", **CLAIMS)

        refused(token, "invalid token")

    def test_a_token_whose_payload_was_tampered_with_is_refused(self) -> None:
        header, _, signature = issue_token(SECRET, **CLAIMS).split(".")
        admin_payload = b64url({**CLAIMS, "role": "admin", "exp": int(time.time()) + 3600})

        refused(f"{header}.{admin_payload}.{signature}", "invalid token")

    @pytest.mark.parametrize("alg", ["none", "None", "NONE"])
    def test_an_unsigned_alg_none_token_is_refused(self, alg: str) -> None:
        payload = {**CLAIMS, "role": "admin", "exp": int(time.time()) + 3600}
        token = f"{b64url({'alg': alg, 'typ': 'JWT'})}.{b64url(payload)}."

        refused(token, "invalid token")

    def test_an_expired_token_is_refused(self) -> None:
        token = issue_token(SECRET, **CLAIMS, ttl_s=-(LEEWAY_S + 60))

        error = refused(token, "expired")

        assert error.detail == "the token has expired"

    @pytest.mark.parametrize("claim", ["role", "region", "team", "sub"])
    def test_a_token_missing_an_identity_claim_is_refused(self, claim: str) -> None:
        claims = {k: v for k, v in CLAIMS.items() if k != claim}

        refused(signed(claims), claim)

    def test_a_token_without_an_expiry_is_refused(self) -> None:
        token = jwt.encode(CLAIMS, SECRET, algorithm="HS256")

        refused(token, "exp")

    @pytest.mark.parametrize("role", ["superuser", "Admin", ""])
    def test_a_token_with_an_unknown_role_is_refused(self, role: str) -> None:
        refused(signed({**CLAIMS, "role": role}), "role")

    @pytest.mark.parametrize("claim", ["sub", "region"])
    def test_a_token_with_an_empty_sub_or_region_is_refused(self, claim: str) -> None:
        refused(signed({**CLAIMS, claim: ""}), "empty")

    @pytest.mark.parametrize("claim", ["sub", "region", "team"])
    @pytest.mark.parametrize("bad", ["\x00", "\ud800"])
    def test_a_claim_the_database_could_not_store_is_refused(self, claim: str, bad: str) -> None:
        refused(signed({**CLAIMS, claim: f"x{bad}"}), "NUL")

    def test_a_claim_that_is_not_a_string_is_refused(self) -> None:
        refused(signed({**CLAIMS, "region": ["east", "south"]}), "region")

    def test_an_rs256_token_is_refused_when_hs256_is_configured(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = int(time.time())
        token = jwt.encode({**CLAIMS, "iat": now, "exp": now + 3600}, key, algorithm="RS256")

        refused(token, "invalid token")

    def test_a_token_for_another_audience_is_refused(self) -> None:
        token = issue_token(SECRET, **CLAIMS, audience="scoring")

        refused(token, "invalid token", audience="pipeline")

    def test_a_token_without_audience_is_refused_when_one_is_required(self) -> None:
        refused(issue_token(SECRET, **CLAIMS), "invalid token", audience="pipeline")

    def test_a_token_from_another_issuer_is_refused(self) -> None:
        token = issue_token(SECRET, **CLAIMS, issuer="someone-else")

        refused(token, "invalid token", issuer="sightline")

    @pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "Bearer x.y.z"])
    def test_garbage_is_refused(self, garbage: str) -> None:
        refused(garbage, "invalid token")


class TestConstruction:
    def test_issuing_refuses_an_unknown_role(self) -> None:
        with pytest.raises(ValueError, match="role must be one of"):
            issue_token(SECRET, sub="u", role="root", region="east", team="t")

    def test_an_hs256_verifier_needs_a_secret(self) -> None:
        with pytest.raises(ValueError, match="secret"):
            TokenVerifier(algorithm="HS256", secret=None)

    def test_an_rs256_verifier_needs_a_jwks_url(self) -> None:
        with pytest.raises(ValueError, match="JWKS"):
            TokenVerifier(algorithm="RS256")

    @pytest.mark.parametrize(
        "scope", [{}, {"audience": "sightline"}, {"issuer": "https://idp.example.com/"}]
    )
    def test_an_rs256_verifier_needs_audience_and_issuer(self, scope: dict[str, str]) -> None:
        with pytest.raises(ValueError, match="audience and issuer"):
            TokenVerifier(algorithm="RS256", jwks_url="https://idp.example.com/jwks", **scope)

    def test_the_expiry_leeway_is_configurable(self) -> None:
        token = issue_token(SECRET, **CLAIMS, ttl_s=-20)

        assert TokenVerifier(secret=SECRET, leeway_s=60).verify(token).sub == CLAIMS["sub"]
        with pytest.raises(UnauthorizedError, match="expired"):
            TokenVerifier(secret=SECRET, leeway_s=5).verify(token)


SETTINGS_ENV = (
    "JWT_SECRET",
    "SIGHTLINE_JWT_SECRET",
    "SIGHTLINE_ENVIRONMENT",
    "SIGHTLINE_JWT_ALGORITHM",
    "SIGHTLINE_JWKS_URL",
    "SIGHTLINE_JWT_AUDIENCE",
    "SIGHTLINE_JWT_ISSUER",
    "SIGHTLINE_JWT_LEEWAY_S",
)


class TestSettingsSecrets:
    @pytest.fixture(autouse=True)
    def clean_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in SETTINGS_ENV:
            monkeypatch.delenv(name, raising=False)

    def settings(self, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return Settings()

    @pytest.mark.parametrize("environment", ["production", "test"])
    def test_a_missing_secret_is_refused_outside_local(
        self, monkeypatch: pytest.MonkeyPatch, environment: str
    ) -> None:
        with pytest.raises(ValidationError, match="JWT_SECRET must be set"):
            self.settings(monkeypatch, SIGHTLINE_ENVIRONMENT=environment)

    @pytest.mark.parametrize("environment", ["production", "test"])
    def test_the_development_default_is_refused_outside_local(
        self, monkeypatch: pytest.MonkeyPatch, environment: str
    ) -> None:
        with pytest.raises(ValidationError, match="JWT_SECRET must be set"):
            self.settings(monkeypatch, SIGHTLINE_ENVIRONMENT=environment, JWT_SECRET=DEV_JWT_SECRET)

    def test_a_secret_shorter_than_32_characters_is_refused_in_production(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with pytest.raises(ValidationError, match="at least 32 characters"):
            self.settings(monkeypatch, SIGHTLINE_ENVIRONMENT="production", JWT_SECRET="x" * 31)

    @pytest.mark.parametrize("variable", ["JWT_SECRET", "SIGHTLINE_JWT_SECRET"])
    def test_a_private_secret_of_32_characters_is_accepted_in_production(
        self, monkeypatch: pytest.MonkeyPatch, variable: str
    ) -> None:
        settings = self.settings(
            monkeypatch, SIGHTLINE_ENVIRONMENT="production", **{variable: "p" * 32}
        )

        assert settings.secret() == "p" * 32

    def test_local_mode_falls_back_to_the_development_default(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings = self.settings(monkeypatch, SIGHTLINE_ENVIRONMENT="local")

        assert settings.environment == "local"
        assert settings.secret() == DEV_JWT_SECRET

    def test_local_is_the_default_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert self.settings(monkeypatch).secret() == DEV_JWT_SECRET

    def test_local_mode_keeps_a_secret_it_is_given(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert self.settings(monkeypatch, JWT_SECRET="short").secret() == "short"

    def test_rs256_in_production_needs_a_jwks_url_and_no_secret(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        with pytest.raises(ValidationError, match="JWKS"):
            self.settings(
                monkeypatch, SIGHTLINE_ENVIRONMENT="production", SIGHTLINE_JWT_ALGORITHM="RS256"
            )

        settings = self.settings(
            monkeypatch,
            SIGHTLINE_ENVIRONMENT="production",
            SIGHTLINE_JWT_ALGORITHM="RS256",
            SIGHTLINE_JWKS_URL="https://idp.example.com/.well-known/jwks.json",
            SIGHTLINE_JWT_AUDIENCE="sightline",
            SIGHTLINE_JWT_ISSUER="https://idp.example.com/",
        )
        assert settings.jwt_secret is None

    @pytest.mark.parametrize("given", ["SIGHTLINE_JWT_AUDIENCE", "SIGHTLINE_JWT_ISSUER", None])
    def test_rs256_refuses_to_start_without_audience_and_issuer(
        self, monkeypatch: pytest.MonkeyPatch, given: str | None
    ) -> None:
        env = {"SIGHTLINE_JWT_ALGORITHM": "RS256", "SIGHTLINE_JWKS_URL": "https://idp/jwks"}
        if given:
            env[given] = "x"

        with pytest.raises(ValidationError, match="AUDIENCE and SIGHTLINE_JWT_ISSUER"):
            self.settings(monkeypatch, **env)

    def test_the_expiry_leeway_is_a_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert self.settings(monkeypatch).jwt_leeway_s == 30
        assert self.settings(monkeypatch, SIGHTLINE_JWT_LEEWAY_S="5").jwt_leeway_s == 5

    def test_a_token_issued_with_the_settings_secret_verifies(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        settings = self.settings(monkeypatch, SIGHTLINE_ENVIRONMENT="production", JWT_SECRET=SECRET)
        token = issue_token(settings.secret(), **CLAIMS)

        assert TokenVerifier(secret=settings.secret()).verify(token).sub == "rep-east-1"
