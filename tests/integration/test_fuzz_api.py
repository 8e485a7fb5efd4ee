"""Schemathesis against the pipeline and collab OpenAPI documents, with a token of every role.

Each service runs as its own process (`sightline serve`), on a real PostgreSQL database and
the embedded broker; every operation gets positive and negative examples (a bounded number,
so the run stays near a minute on two cores), on generated ids and on seeded ones (a deal, an
account, a member, a contact request) so that commands reach the domain and the database. No
answer may be a 5xx or leave its own documented schema, status codes and media types.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.pipeline_svc.adapters.collab import apply_collab_event
from shared.auth import issue_token
from shared.contracts.collab import AccountRegistered, MemberAssigned
from shared.db import make_engine
from shared.events.envelope import Envelope
from shared.identity import ROLES
from shared.settings import DEV_JWT_SECRET
from tests.infra import unique_name

#: about half a minute per service on two idle cores; a loaded CI machine gets more room
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

EXAMPLES = int(os.environ.get("SIGHTLINE_FUZZ_EXAMPLES", "15"))
STATEFUL_EXAMPLES = max(1, EXAMPLES // 3)
#: the widest writer and the narrowest member: their sequences reach the most and the least
STATEFUL_ROLES = ("admin", "rep")
#: unknown query parameters are ignored (FastAPI's way), so negative-data rejection is not asked
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
TOKENS: dict[str, str] = {
    role: issue_token(DEV_JWT_SECRET, sub=f"fuzz-{role}", role=role, region="east", team="east-1")
    for role in ROLES
}


@dataclass(frozen=True)
class Service:
    url: str
    logs: Path
    database_url: str

    def log_tail(self) -> str:
        return self.logs.read_text(errors="replace")[-4000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(service: str, database_url: str, bootstrap: str, logs: Path) -> Iterator[Service]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "SIGHTLINE_PORT": str(port),
        "SIGHTLINE_ENVIRONMENT": "local",
        "SIGHTLINE_TOPIC_PREFIX": unique_name("fz") + ".",
        "SIGHTLINE_TOPIC_PARTITIONS": "1",
        "SIGHTLINE_LOG_LEVEL": "WARNING",
    }
    log = logs.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "serve", service],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{service} exited: {logs.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{service} not ready in 60 s: {logs.read_text()[-2000:]}")
            time.sleep(0.2)
        yield Service(url, logs, database_url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def pipeline(
    make_database: Callable[..., str],
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    logs = tmp_path_factory.mktemp("fuzz") / "pipeline.log"
    yield from serve("pipeline", make_database("fzp"), kafka_bootstrap, logs)


@pytest.fixture(scope="module")
def collab(
    make_database: Callable[..., str],
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    logs = tmp_path_factory.mktemp("fuzz") / "collab.log"
    yield from serve("collab", make_database("fzc"), kafka_bootstrap, logs)


def call(service: Service, method: str, path: str, role: str, body: Any) -> dict[str, Any]:
    token = issue_token(DEV_JWT_SECRET, sub=f"seed-{role}", role=role, region="east", team="east-1")
    if role == "rep":  # a rep of another region asks for contact
        token = issue_token(DEV_JWT_SECRET, sub="seed-rep", role=role, region="south", team="s-1")
    r = httpx.request(
        method, service.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code < 300, r.text
    return r.json()  # type: ignore[no-any-return]


def seed_pipeline(service: Service) -> dict[str, str]:
    """A deal on an account the pipeline knows, so fuzzed commands reach the domain and the store."""

    async def know_account() -> None:
        now = datetime.now(UTC)
        event = AccountRegistered(
            occurred_at=now, account_id="fz-acme", name="Acme", owning_region="east", actor_id="a"
        )
        engine = make_engine(service.database_url, pool_size=1)
        try:
            rep = MemberAssigned(
                occurred_at=now,
                member_id="fuzz-rep",
                name="Fuzz Rep",
                role="rep",
                region_id="east",
                team_id="east-1",
                actor_id="a",
            )
            async with engine.begin() as conn:
                envelope = Envelope(uuid.uuid4(), "account-fz-acme", "account", 1, event, now, "x")
                await apply_collab_event(conn, envelope)
                member = Envelope(uuid.uuid4(), "member-fuzz-rep", "member", 1, rep, now, "x")
                await apply_collab_event(conn, member)
        finally:
            await engine.dispose()

    asyncio.run(know_account())
    body = {
        "account_id": "fz-acme",
        "title": "Acme",
        "amount": "1000",
        "expected_close_date": "2027-01-31",
        "owner_id": "fuzz-rep",
        "region": "east",
        "team": "east-1",
    }
    opened = call(service, "POST", "/opportunities", "admin", body)
    return {"opportunity_id": opened["id"], "account_id": "fz-acme"}


def seed_collab(service: Service) -> dict[str, str]:
    """Regions, a team, a member, an account and a contact request to aim the fuzzing at."""
    for region in ("east", "south"):
        call(service, "POST", "/org/regions", "admin", {"region_id": region, "name": region})
    call(
        service,
        "POST",
        "/org/teams",
        "admin",
        {"team_id": "east-1", "region_id": "east", "name": "t"},
    )
    member = {"member_id": "fuzz-rep", "name": "Wang", "role": "rep", "region_id": "east"}
    call(service, "POST", "/org/members", "admin", {**member, "team_id": "east-1"})
    account = {"account_id": "fz-acme", "name": "Acme", "owning_region": "east"}
    call(service, "POST", "/accounts", "admin", account)
    now = datetime.now(UTC)
    window = {"window_start": now.isoformat(), "window_end": (now + timedelta(days=5)).isoformat()}
    req = call(
        service, "POST", "/accounts/fz-acme/contact-requests", "rep", {"purpose": "visit", **window}
    )
    return {"account_id": "fz-acme", "member_id": "fuzz-rep", "request_id": req["request_id"]}


def fuzz(url: str, known: dict[str, str]) -> list[str]:
    """Every operation, positive and negative, on generated ids and on the seeded ones."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    session = requests.Session()
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"an operation the fuzzer cannot read: {result.err()}")
            continue
        operation = result.ok()
        fixed = {k: v for k, v in known.items() if f"{{{k}}}" in operation.path}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            for path_parameters in [None, fixed] if fixed else [None]:
                strategy = operation.as_strategy(mode, path_parameters=path_parameters)
                try:
                    examples(strategy, url, session)
                except Unsatisfiable:
                    if mode is not schemathesis.GenerationMode.NEGATIVE:
                        raise
                    # nothing to get wrong: the operation takes no parameters and no body
                except Exception as exc:
                    failures.append(f"{operation.label} [{mode.value}]: {exc}"[:3000])
    for role in STATEFUL_ROLES:
        try:
            sequences(schema, url, session, role)
        except Exception as exc:
            failures.append(f"stateful sequences as {role}: {exc}"[:3000])
    return failures


def sequences(schema: Any, url: str, session: requests.Session, role: str) -> None:
    """The stateful phase: chains of calls that feed one answer's ids into the next call."""
    headers = {"Authorization": f"Bearer {TOKENS[role]}"}

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": url, "session": session, "headers": headers}

        def validate_response(self, response: Any, case: Any, *_: Any, **__: Any) -> None:
            case.validate_response(response, checks=CHECKS, headers=headers)

    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )


def examples(strategy: Any, url: str, session: requests.Session) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, role=st.sampled_from(ROLES))
    def run(case: Any, role: str) -> None:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"}
        response = case.call(base_url=url, session=session, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def test_pipeline_answers_every_role_within_its_schema_and_never_5xx(pipeline: Service) -> None:
    failures = fuzz(pipeline.url, seed_pipeline(pipeline))

    assert not failures, "\n\n".join([*failures, "server log:", pipeline.log_tail()])


def test_collab_answers_every_role_within_its_schema_and_never_5xx(collab: Service) -> None:
    failures = fuzz(collab.url, seed_collab(collab))

    assert not failures, "\n\n".join([*failures, "server log:", collab.log_tail()])
