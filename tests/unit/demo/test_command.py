"""`sightline demo`: its options, its business 'now', the tokens it acts with."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
import pytest
from typer.testing import CliRunner

from shared.auth import issue_token
from shared.cli import app
from shared.demo.command import parse_now
from shared.demo.console import token_factory
from shared.demo.cross_region import MAIL_SYNC
from shared.demo.org import IMPORTER
from shared.demo.plan import Plan
from shared.settings import DEV_JWT_SECRET

WALL = datetime(2026, 11, 27, 15, 45, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JWT_SECRET", "SIGHTLINE_JWT_SECRET", "SIGHTLINE_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)


def test_a_dry_run_prints_the_plan_and_sends_nothing() -> None:
    args = ["demo", "--dry-run", "--size", "4", "--months", "1", "--now", "2026-11-01T00:00:00Z"]
    result = CliRunner().invoke(app, [*args, "--pipeline-url", "http://127.0.0.1:9"])
    assert result.exit_code == 0, result.output
    assert "reps / supervisors / regional managers" in result.output
    assert "4 / 1 / 1" in result.output


def test_an_unknown_profile_is_refused() -> None:
    result = CliRunner().invoke(app, ["demo", "--dry-run", "--profile", "sometimes"])
    assert result.exit_code == 2


def test_an_unreachable_service_is_a_clear_error_not_a_trace() -> None:
    args = ["demo", "--size", "4", "--months", "1", "--pipeline-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "sightline demo:" in result.output


def test_now_defaults_to_the_start_of_the_day() -> None:
    assert parse_now(None, WALL) == datetime(2026, 11, 27, tzinfo=UTC)


@pytest.mark.parametrize("given", ["2026-11-28T00:00:00+00:00", "2026-11-01T00:00:00"])
def test_now_may_be_neither_in_the_future_nor_without_a_zone(given: str) -> None:
    with pytest.raises(ValueError, match="--now"):
        parse_now(given, WALL)


def test_the_importer_acts_as_each_member_and_the_mail_sync_as_a_partner(
    small_plans: dict[str, Plan],
) -> None:
    plan = small_plans["before"]

    def sign(sub: str, role: str, region: str, team: str) -> str:
        return issue_token(DEV_JWT_SECRET, sub=sub, role=role, region=region, team=team)

    token_for = token_factory(plan, sign)

    def claims(actor: str) -> tuple[str, str, str, str]:
        c = jwt.decode(token_for(actor), DEV_JWT_SECRET, algorithms=["HS256"])
        return c["sub"], c["role"], c["region"], c["team"]

    rep = next(m for m in plan.members.values() if m.role == "rep")
    assert claims(rep.member_id) == (rep.member_id, "importer", rep.region, rep.team)
    assert claims(IMPORTER)[:2] == (IMPORTER, "importer")
    assert claims(MAIL_SYNC)[:2] == (MAIL_SYNC, "partner")
