"""`sightline token` prints only a JWT signed with the secret in force."""

from __future__ import annotations

import jwt
import pytest
from typer.testing import CliRunner

from shared.cli import app
from shared.settings import DEV_JWT_SECRET

ARGS = ["token", "--sub", "u-17", "--role", "supervisor", "--region", "east", "--team", "east-1"]


@pytest.fixture(autouse=True)
def _local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JWT_SECRET", "SIGHTLINE_JWT_SECRET", "SIGHTLINE_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SIGHTLINE_JWT_ALGORITHM", "SIGHTLINE_JWT_ISSUER", "SIGHTLINE_JWT_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)


def test_token_prints_only_a_jwt_signed_with_the_dev_secret_in_local_mode() -> None:
    result = CliRunner().invoke(app, [*ARGS, "--ttl", "600"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    claims = jwt.decode(lines[0], DEV_JWT_SECRET, algorithms=["HS256"])
    assert {k: claims[k] for k in ("sub", "role", "region", "team")} == {
        "sub": "u-17",
        "role": "supervisor",
        "region": "east",
        "team": "east-1",
    }
    assert claims["exp"] - claims["iat"] == 600


def test_token_is_signed_with_jwt_secret_when_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "a-private-secret-of-at-least-32-characters"
    monkeypatch.setenv("JWT_SECRET", secret)

    result = CliRunner().invoke(app, ARGS)

    assert result.exit_code == 0, result.output
    assert jwt.decode(result.stdout.strip(), secret, algorithms=["HS256"])["sub"] == "u-17"


def test_token_refuses_an_unknown_role_and_prints_no_token() -> None:
    result = CliRunner().invoke(app, [*ARGS[:3], "--role", "boss", *ARGS[5:]])

    assert result.exit_code != 0
    assert result.stdout.count(".") < 2
