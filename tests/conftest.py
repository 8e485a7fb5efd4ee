"""Session fixtures: PostgreSQL and a Kafka-protocol broker for integration and e2e tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The checkout's own code and `tests.infra`, whether or not the project is pip-installed.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.runtime.embedded import EmbeddedKafka  # noqa: E402
from tests import infra  # noqa: E402

_TIERS = ("integration", "e2e")  # the markers pyproject.toml registers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier (its folder), so `-m integration` and the like select."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(ROOT).parts
        if len(parts) > 1 and parts[0] == "tests" and parts[1] in _TIERS:
            item.add_marker(parts[1])


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the server's `postgres` database: TEST_DATABASE_URL, else embedded."""
    with infra.postgres_server(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture(scope="session")
def make_database(postgres_server: str) -> Callable[..., str]:
    """Call it (optionally with a name prefix) for a fresh database; usable from any scope."""

    def make(prefix: str = "t") -> str:
        return infra.new_database(postgres_server, prefix)

    return make


@pytest.fixture
def database_url(make_database: Callable[..., str]) -> str:
    """A fresh, uniquely named database for this test (`postgresql+asyncpg://` URL)."""
    return make_database()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`host:port` of the session's broker: TEST_KAFKA_BOOTSTRAP_SERVERS, else embedded Tansu."""
    with infra.kafka_bootstrap(tmp_path_factory.mktemp("kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedKafka]:
    """A private embedded broker for this module, with `restart()`; fails with an external one."""
    with infra.embedded_kafka(tmp_path_factory.mktemp("kafka-private")) as broker:
        yield broker
