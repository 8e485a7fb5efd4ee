"""The asyncpg DSN of a SQLAlchemy URL: what the relay, the waker and the webhook workers use."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from shared.messaging.relay import asyncpg_dsn


def query(dsn: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(dsn).query)


def test_the_driver_name_goes_and_the_rest_stays() -> None:
    dsn = asyncpg_dsn("postgresql+asyncpg://app:p%40ss@db.internal:6432/sightline_pipeline")
    assert dsn == "postgresql://app:p%40ss@db.internal:6432/sightline_pipeline"


@pytest.mark.parametrize(
    ("given", "mode"),
    [
        ("disable", "disable"),
        ("require", "require"),
        ("true", "require"),
        ("verify-full", "verify-full"),
    ],
)
def test_sqlalchemys_ssl_becomes_asyncpgs_sslmode(given: str, mode: str) -> None:
    # asyncpg would send an unknown `ssl` to the server as a setting, which refuses it
    dsn = asyncpg_dsn(f"postgresql+asyncpg://app@db/x?ssl={given}&application_name=relay")
    assert query(dsn) == {"sslmode": [mode], "application_name": ["relay"]}


def test_a_socket_directory_survives_as_asyncpg_reads_it() -> None:
    dsn = asyncpg_dsn("postgresql+asyncpg://postgres@/test?host=/tmp/pg")
    assert query(dsn) == {"host": ["/tmp/pg"]}
    assert urlsplit(dsn).path == "/test"
