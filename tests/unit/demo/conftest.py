"""Plans shared by the demo generator's tests (generating a full year takes a second)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.pipeline_svc.domain.playbook import default_playbook
from shared.demo.generator import generate
from shared.demo.plan import Plan
from shared.demo.profiles import PROFILES, Shape

NOW = datetime(2026, 11, 27, 6, 30, tzinfo=UTC)


def plan_of(profile: str, size: str | int = "small", seed: int = 7, months: int = 12) -> Plan:
    return generate(
        seed=seed,
        shape=Shape.of(size),
        profile=PROFILES[profile],
        months=months,
        now=NOW,
        playbook=default_playbook(),
    )


@pytest.fixture(scope="session")
def full_plans() -> dict[str, Plan]:
    return {name: plan_of(name, "full", seed=1) for name in PROFILES}


@pytest.fixture(scope="session")
def small_plans() -> dict[str, Plan]:
    return {name: plan_of(name) for name in PROFILES}
