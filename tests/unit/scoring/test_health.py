"""The health index arithmetic, with expected numbers worked by hand from DESIGN.md."""

from __future__ import annotations

import pytest

from services.scoring_svc.domain import calendar
from services.scoring_svc.domain import model as m
from services.scoring_svc.domain.health import rollups, week_scores
from services.scoring_svc.domain.ledger import Ledger
from services.scoring_svc.domain.model import InvalidModelError, ScoringModel, round_half_up
from shared.events.base import DomainEvent
from tests.unit.scoring.builders import TZ, Deal, account, at, team_week_47, transfer

W47 = calendar.week("2026-W47", TZ)
E = W47.end  # Monday 2026-11-23 00:00 Asia/Shanghai


def test_week_47_ends_on_the_next_monday_midnight_in_the_org_zone() -> None:
    assert E.isoformat() == "2026-11-23T00:00:00+08:00"
    assert W47.start.isoformat() == "2026-11-16T00:00:00+08:00"


def test_rep_score_is_the_weighted_mean_of_component_means_over_open_deals() -> None:
    reps = week_scores(Ledger.build(team_week_47()), ScoringModel(), E)
    a = reps["rep-a"]
    values = {c.key: round(c.value, 6) for c in a.components}
    # deal A: revisit min(1, 3/2) = 1; completeness mean(0.81, 0.45) = 0.63 → 0.63/0.9 = 0.7;
    #   roles {decision_maker, technical_evaluator} → 2/3; competitive 0 (plan filed at E only)
    # deal B: revisit 1/2 = 0.5; completeness 0.9/0.9 = 1 (checklist only); roles min(1, 4/3) = 1
    assert values == {
        m.REVISIT: 0.75,  # (1 + 0.5) / 2
        m.COMPLETENESS: 0.85,  # (0.7 + 1) / 2
        m.KEY_PERSONS: 0.833333,  # (2/3 + 1) / 2
        m.COMPETITIVE: 0.0,  # deal A only
    }
    # 100 × (0.20×0.75 + 0.30×0.85 + 0.25×0.833333 + 0.25×0) = 61.3333 → 61.3
    assert a.score == 61.3
    assert [len(c.opportunities) for c in a.components] == [2, 2, 2, 1]


def test_what_would_raise_the_score_most_is_ranked_by_points_gained() -> None:
    a = week_scores(Ledger.build(team_week_47()), ScoringModel(), E)["rep-a"]
    # gain of one deal brought to 1 = 100 × w × (1 − v) / n:
    # competitive A 100×0.25×1/1 = 25.0; revisit B 100×0.2×0.5/2 = 5.0;
    # completeness A 100×0.3×0.3/2 = 4.5; roles A 100×0.25×(1/3)/2 = 4.17
    assert [(s.component, s.gain) for s in a.raise_most] == [
        (m.COMPETITIVE, 25.0),
        (m.REVISIT, 5.0),
        (m.COMPLETENESS, 4.5),
    ]


def test_a_rep_with_subjects_doing_nothing_scores_zero_and_one_without_subjects_has_none() -> None:
    reps = week_scores(Ledger.build(team_week_47()), ScoringModel(), E)
    # rep-b: one lead deal (reassigned before E), no activity, no roles:
    # revisit 0 and roles 0 apply, weights rescaled → 0.0
    assert reps["rep-b"].score == 0.0
    assert reps["rep-c"].score is None
    assert reps["rep-c"].components == []


def test_components_that_apply_to_no_deal_are_left_out_and_weights_rescaled() -> None:
    ev: list[DomainEvent] = []
    Deal(ev, at(2)).activity(at(17)).role(at(3), "decision_maker").role(at(3), "user")
    h = week_scores(Ledger.build(ev), ScoringModel(), E)["rep-a"]
    # a lead: only revisit (1/2 = 0.5) and roles (2/3) apply; weights 0.20 and 0.25 over 0.45
    # 100 × (0.20×0.5 + 0.25×2/3) / 0.45 = 100 × 0.266667 / 0.45 = 59.259 → 59.3
    assert h.score == 59.3
    assert [(c.key, round(c.weight, 4)) for c in h.components] == [
        (m.REVISIT, 0.4444),  # 0.20 / 0.45
        (m.KEY_PERSONS, 0.5556),  # 0.25 / 0.45
    ]


def test_customer_facing_means_by_the_region_owning_the_account_at_the_time() -> None:
    ev: list[DomainEvent] = [
        account(at(1), "acct-x", "east"),
        transfer(at(18), "acct-x", "east", "south"),
    ]
    deal = Deal(ev, at(2), owner="rep-e", account="acct-x")
    deal.activity(at(17))  # east while east owned it: counts
    deal.activity(at(19))  # east after the transfer to south: another region's contact
    deal.activity(at(20), region="south", actor="rep-s")  # south, now the owner: counts
    h = week_scores(Ledger.build(ev), ScoringModel(), E)["rep-e"]
    # a = 2 → revisit 1; roles 0; 100 × (0.20×1 + 0.25×0) / 0.45 = 44.444 → 44.4
    assert h.score == 44.4


def test_team_is_the_mean_of_members_scores_and_region_the_mean_of_its_teams() -> None:
    ledger = Ledger.build(team_week_47())
    reps = week_scores(ledger, ScoringModel(), E)
    # rep-d: revisit min(1, 2/2) = 1, roles 3/3 = 1 → 100.0
    assert reps["rep-d"].score == 100.0
    teams, regions = rollups(ledger, reps, E)
    # east-1 at E: rep-a 61.3, rep-b 0.0, rep-c none → (61.3 + 0.0) / 2 = 30.65
    assert teams["east-1"].score == 30.65
    assert teams["east-2"].score == 100.0
    # east: (30.65 + 100.00) / 2 = 65.325 → 65.33
    assert regions["east"].score == 65.33


def test_weights_changed_by_the_model_apply_to_the_computation() -> None:
    ev: list[DomainEvent] = []
    Deal(ev, at(2)).activity(at(17)).role(at(3), "decision_maker").role(at(3), "user")
    weights = {m.REVISIT: 0.5, m.COMPLETENESS: 0.5, m.KEY_PERSONS: 0.0, m.COMPETITIVE: 0.0}
    changed = ScoringModel(weights=weights, revisit_target=1.0)
    # revisit min(1, 1/1) = 1 (weight 0.5), roles 2/3 (weight 0): 100 × 0.5×1 / 0.5 = 100.0
    assert week_scores(Ledger.build(ev), changed, E)["rep-a"].score == 100.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {
                "weights": {
                    m.REVISIT: 0.5,
                    m.COMPLETENESS: 0.3,
                    m.KEY_PERSONS: 0.1,
                    m.COMPETITIVE: 0.0,
                }
            },
            "weights",
        ),
        ({"weights": {m.REVISIT: 1.0}}, "weights"),
        ({"roles_target": 0.0}, "roles_target"),
        ({"completeness_target": -0.9}, "completeness_target"),
        ({"revisit_target": float("inf")}, "revisit_target"),
        (
            {
                "weights": {
                    m.REVISIT: float("nan"),
                    m.COMPLETENESS: 0.5,
                    m.KEY_PERSONS: 0.25,
                    m.COMPETITIVE: 0.25,
                }
            },
            "weights",
        ),
        ({"stage_probabilities": {"lead": 1.5}}, "stage_probabilities"),
    ],
)
def test_a_model_whose_weights_do_not_sum_to_one_or_targets_are_not_positive_is_refused(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidModelError) as err:
        ScoringModel(**changes).validate()  # type: ignore[arg-type]
    assert err.value.field == field


def test_rounding_is_half_up_as_by_hand() -> None:
    assert round_half_up(65.325, 2) == 65.33
    assert round_half_up(2.25, 1) == 2.3
    assert round_half_up(59.25925, 1) == 59.3


def test_arrival_order_does_not_matter_only_business_time_does() -> None:
    events = team_week_47()
    shuffled = list(reversed(events))
    a = week_scores(Ledger.build(shuffled), ScoringModel(), E)["rep-a"]
    assert a.score == 61.3  # as in the ordered history
