"""The demo plan: reproducible, ordered in business time, never in the future, shaped as asked."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from shared.demo.generator import streams
from shared.demo.plan import PHASES, REF, Plan
from shared.demo.profiles import Shape
from tests.unit.demo.conftest import NOW, plan_of


def _fingerprint(plan: Plan) -> list[tuple[object, ...]]:
    return [(c.at, c.stream, c.path, c.actor, repr(sorted(c.body.items()))) for c in plan.commands]


def test_the_same_seed_gives_the_same_plan() -> None:
    assert _fingerprint(plan_of("before", 8, seed=3)) == _fingerprint(plan_of("before", 8, seed=3))


def test_another_seed_gives_another_plan() -> None:
    assert _fingerprint(plan_of("before", 8, seed=3)) != _fingerprint(plan_of("before", 8, seed=4))


def test_before_and_after_share_the_organisation_and_the_lead_flow(
    small_plans: dict[str, Plan],
) -> None:
    before, after = small_plans["before"], small_plans["after"]
    assert before.members == after.members
    assert before.accounts == after.accounts
    assert [(d.owner, d.opened_at) for d in before.deals] == [
        (d.owner, d.opened_at) for d in after.deals
    ]


@pytest.mark.parametrize("profile", ["before", "after"])
def test_business_time_only_grows_within_each_stream(
    small_plans: dict[str, Plan], profile: str
) -> None:
    for name, cmds in streams(small_plans[profile].commands).items():
        times = [c.at for c in cmds]
        assert times == sorted(times), name


@pytest.mark.parametrize("profile", ["before", "after"])
def test_nothing_happens_at_or_after_now(small_plans: dict[str, Plan], profile: str) -> None:
    plan = small_plans[profile]
    assert max(c.at for c in plan.commands) < NOW
    for c in plan.commands:
        stamped = [datetime.fromisoformat(log["occurred_at"]) for log in c.body.get("logs", [])]
        stamped += (
            [datetime.fromisoformat(c.body["occurred_at"])] if "occurred_at" in c.body else []
        )
        assert stamped == [c.at], c


@pytest.mark.parametrize("profile", ["before", "after"])
def test_phases_come_in_dependency_order_and_refs_follow_their_creation(
    small_plans: dict[str, Plan], profile: str
) -> None:
    plan = small_plans[profile]
    setup = [c for c in plan.commands if c.phase not in ("contact requests", "deals")]
    assert [PHASES.index(c.phase) for c in setup] == sorted(PHASES.index(c.phase) for c in setup)
    assert max(c.at for c in setup) < plan.start
    created: set[str] = set()
    for cmds in streams(plan.commands).values():
        for c in cmds:
            if c.ref is not None:
                assert c.ref in created and REF in c.path, c
            if c.creates is not None:
                created.add(c.creates)


def test_the_full_shape_is_four_regions_twelve_city_teams_and_68_reps() -> None:
    plan = plan_of("after", "full", months=1)
    roles = Counter(m.role for m in plan.members.values())
    assert roles == {"rep": 68, "supervisor": 12, "regional_manager": 4}
    assert len({m.team for m in plan.members.values()}) == 12
    assert len({m.region for m in plan.members.values()}) == 4
    groups: dict[str, set[str]] = {}
    for a in plan.accounts:
        if a.group_id:
            groups.setdefault(a.group_id, set()).add(a.region)
    assert any(len(regions) >= 3 for regions in groups.values())


@pytest.mark.parametrize(
    ("size", "regions", "teams"), [(4, 1, 1), ("small", 2, 2), ("medium", 4, 4), (40, 4, 7)]
)
def test_shapes_grow_with_the_number_of_reps(size: str | int, regions: int, teams: int) -> None:
    shape = Shape.of(size)
    assert (shape.regions, shape.teams, sum(shape.reps_per_team)) == (
        regions,
        teams,
        shape.reps,
    )


def test_a_single_region_has_no_cross_region_traffic() -> None:
    plan = plan_of("before", 4, months=3)
    assert not plan.conflicts
    assert not [c for c in plan.commands if "contact-requests" in c.path or "ingest" in c.path]


def test_each_plan_says_which_events_its_commands_record(small_plans: dict[str, Plan]) -> None:
    plan = small_plans["before"]
    pipeline = plan.expected_events("pipeline")
    assert pipeline["OpportunityOpened"] == len(plan.deals)
    assert pipeline["OpportunityWon"] == sum(1 for d in plan.deals if d.won_at)
    assert pipeline["OpportunityLost"] == sum(1 for d in plan.deals if d.lost_at)
    assert pipeline["StageAdvanceBlocked"] > 0
    collab = plan.expected_events("collab")
    assert collab["MemberAssigned"] == len(plan.members)
    assert collab["AccountRegistered"] == len(plan.accounts)
