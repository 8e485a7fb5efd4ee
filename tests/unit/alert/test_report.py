"""Risk report content from hand-built histories."""

from __future__ import annotations

from services.alert_svc.domain import report
from shared.contracts import pipeline as pv
from shared.contracts.playbook import (
    ActivityKind,
    ActivityRequirement,
    ArtifactKind,
    ArtifactRequirement,
    FieldSpec,
    Label,
    PlaybookDefinition,
    Stage,
    StakeholderRole,
    StakeholderRolesRequirement,
)
from tests.unit.alert.builders import Deal, day


def label(text: str) -> Label:
    return Label(en=text, zh=text)


PLAYBOOK = PlaybookDefinition(
    name="default",
    stages=[
        Stage(key="lead", label=label("lead")),
        Stage(
            key="initial_contact",
            label=label("initial contact"),
            exit=[
                ArtifactRequirement(artifact="needs_interview_notes", min_fill_rate=0.8),
                ActivityRequirement(activity_kinds=["interview"]),
                StakeholderRolesRequirement(min_roles=2),
            ],
        ),
        Stage(key="needs_confirmed", label=label("needs confirmed")),
    ],
    artifact_kinds=[
        ArtifactKind(
            key="needs_interview_notes",
            label=label("notes"),
            fields=[FieldSpec(name="needs", label=label("needs"))],
        )
    ],
    activity_kinds=[ActivityKind(key="interview", label=label("interview"))],
    stakeholder_roles=[
        StakeholderRole(key="decision_maker", label=label("dm")),
        StakeholderRole(key="champion", label=label("champion")),
    ],
)


def history() -> list[pv.PipelineEvent]:
    deal = Deal()
    return [
        deal.opened(day(0)),
        deal.advanced(day(16), "initial_contact"),
        deal.activity(day(18), objections_raised=["price", "timeline"]),
        deal.artifact(day(19), "needs_interview_notes", fill_rate=0.5),
        deal.stakeholder(day(20), "champion"),
        deal.activity(day(21), kind="email", objections_resolved=["timeline"]),
    ]


def test_stage_history_shows_business_time_dwell_beside_the_medians() -> None:
    content = report.build(history(), day(31), playbook=PLAYBOOK, medians={"lead": (5.0, 6.5)})
    lead, contact = content.stage_history
    assert (lead.stage, lead.days, lead.team_median_days, lead.region_median_days) == (
        "lead",
        16.0,
        5.0,
        6.5,
    )
    assert (contact.stage, contact.days, contact.left_at) == ("initial_contact", 15.0, None)
    assert content.days_in_stage == 15.0 and content.next_stage == "needs_confirmed"


def test_missing_items_are_computed_from_the_playbook_when_no_advance_was_refused() -> None:
    content = report.build(history(), day(31), playbook=PLAYBOOK)
    assert content.missing_source == "playbook"
    assert [m.code for m in content.missing_for_next_stage] == [
        "artifact:needs_interview_notes",
        "activity:interview",
        "stakeholder_roles",
    ]


def test_missing_items_come_from_the_last_refused_advance_out_of_the_stage() -> None:
    deal = Deal()
    deal.stage = "initial_contact"
    item = pv.MissingItem(
        code="artifact:decision_chain_map",
        requirement="artifact",
        stage="initial_contact",
        gate="exit",
        detail="decision chain map missing",
        detail_zh="缺决策链分析图",
    )
    events = [*history(), deal.blocked(day(25), "needs_confirmed", [item])]
    content = report.build(events, day(31), playbook=PLAYBOOK)
    assert content.missing_source == "stage_advance_blocked"
    assert [m.code for m in content.missing_for_next_stage] == ["artifact:decision_chain_map"]


def test_objections_say_whether_they_were_resolved_later() -> None:
    content = report.build(history(), day(31))
    assert {(o.objection, o.resolved) for o in content.objections} == {
        ("price", False),
        ("timeline", True),
    }
    assert content.missing_source == "unknown"


def test_stakeholder_roles_covered_and_missing() -> None:
    content = report.build(history(), day(31), playbook=PLAYBOOK)
    assert content.stakeholder_roles_covered == ["champion"]
    assert content.stakeholder_roles_missing == ["decision_maker"]


def test_each_recommendation_names_the_gap_it_closes() -> None:
    content = report.build(
        history(), day(31), playbook=PLAYBOOK, medians={"initial_contact": (None, 7.0)}
    )
    gaps = [r.closes_gap for r in content.recommendations]
    assert "missing artifact:needs_interview_notes" in gaps
    assert "open objection: price" in gaps
    assert "stakeholder role decision_maker not covered" in gaps
    assert any(g.startswith("15.0 days in initial_contact") for g in gaps)
    assert "open objection: timeline" not in gaps


def test_recent_activities_come_newest_first() -> None:
    content = report.build(history(), day(31))
    assert [a.kind for a in content.recent_activities] == ["email", "call"]
    assert content.health is None
