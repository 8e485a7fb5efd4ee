"""Timer arithmetic: start, reset, cancel, rule changes, business time, simulation."""

from __future__ import annotations

from datetime import timedelta

from services.alert_svc.domain.seed import SEED_RULES
from services.alert_svc.domain.subject import Subject
from services.alert_svc.domain.timer import (
    LATE,
    Timer,
    replan,
    resolution_reason,
    simulate,
    step,
)
from shared.contracts.rules import RuleDefinition, When
from shared.events.base import DomainEvent
from tests.unit.alert.builders import Deal, day

FOLLOW_UP = SEED_RULES["follow-up-gap"]
STALL = SEED_RULES["stage-stall"]
GOLDEN = SEED_RULES["golden-72-hours"]


def run(rule: RuleDefinition, events: list[DomainEvent]) -> Timer | None:
    """Feed events one by one, as the consumer does."""
    subject, running = Subject("opp-1"), None
    for e in events:
        subject.apply(e)
        running = step(rule, running, subject, e).timer
    return running


def test_opening_starts_the_follow_up_timer_due_seven_days_later() -> None:
    deal = Deal()
    assert run(FOLLOW_UP, [deal.opened(day(0))]) == Timer(day(0), day(7))


def test_each_customer_facing_activity_resets_the_follow_up_timer() -> None:
    deal = Deal()
    timer = run(FOLLOW_UP, [deal.opened(day(0)), deal.activity(day(3)), deal.activity(day(5))])
    assert timer == Timer(day(5), day(12))


def test_an_internal_activity_does_not_reset_the_follow_up_timer() -> None:
    deal = Deal()
    events = [deal.opened(day(0)), deal.activity(day(3), kind="note", customer_facing=False)]
    assert run(FOLLOW_UP, events) == Timer(day(0), day(7))


def test_won_or_lost_cancels_the_follow_up_timer() -> None:
    deal = Deal()
    assert run(FOLLOW_UP, [deal.opened(day(0)), deal.won(day(2))]) is None
    assert run(FOLLOW_UP, [deal.opened(day(0)), deal.lost(day(2))]) is None


def test_an_event_older_than_the_running_timer_changes_nothing() -> None:
    deal = Deal()
    timer = run(FOLLOW_UP, [deal.opened(day(0)), deal.activity(day(5)), deal.activity(day(2))])
    assert timer == Timer(day(5), day(12))


def test_golden_72_hours_is_due_three_days_after_the_lead() -> None:
    deal = Deal()
    assert run(GOLDEN, [deal.opened(day(0))]) == Timer(day(0), day(0) + timedelta(hours=72))


def test_only_a_customer_facing_interview_cancels_golden_72_hours() -> None:
    deal = Deal()
    opened = deal.opened(day(0))
    assert run(GOLDEN, [opened, deal.activity(day(1), kind="call")]) is not None
    internal = deal.activity(day(1), kind="interview", customer_facing=False)
    assert run(GOLDEN, [opened, internal]) is not None
    assert run(GOLDEN, [opened, deal.activity(day(1), kind="interview")]) is None


def test_a_stage_entered_after_a_long_previous_stage_starts_the_stall_timer() -> None:
    deal = Deal()
    events = [deal.opened(day(0)), deal.advanced(day(15), "initial_contact")]
    assert run(STALL, events) == Timer(day(15), day(29))


def test_a_stage_entered_after_a_short_previous_stage_starts_no_stall_timer() -> None:
    deal = Deal()
    assert run(STALL, [deal.opened(day(0)), deal.advanced(day(14), "initial_contact")]) is None


def test_leaving_the_stage_cancels_the_stall_timer_or_starts_the_next() -> None:
    deal = Deal()
    base = [deal.opened(day(0)), deal.advanced(day(15), "initial_contact")]
    assert run(STALL, [*base, deal.advanced(day(20), "needs_confirmed")]) is None
    deal2 = Deal()
    slow = [deal2.opened(day(0)), deal2.advanced(day(15), "initial_contact")]
    slow.append(deal2.advanced(day(31), "needs_confirmed"))
    assert run(STALL, slow) == Timer(day(31), day(45))


def test_a_step_that_ends_a_timer_clears_the_condition() -> None:
    deal = Deal()
    subject = Subject("opp-1")
    opened = deal.opened(day(0))
    subject.apply(opened)
    first = step(FOLLOW_UP, None, subject, opened)
    won = deal.won(day(1))
    subject.apply(won)
    result = step(FOLLOW_UP, first.timer, subject, won)
    assert result.timer is None and result.cleared and result.changed


def test_an_unrelated_event_neither_changes_nor_clears() -> None:
    deal = Deal()
    subject = Subject("opp-1")
    running = Timer(day(0), day(7))
    artifact = deal.artifact(day(1), "proposal")
    result = step(FOLLOW_UP, running, subject, artifact)
    assert result == type(result)(running, cleared=False, changed=False)


def test_reset_on_restarts_only_a_running_timer() -> None:
    rule = FOLLOW_UP.model_copy(
        update={
            "start_on": FOLLOW_UP.start_on[:1],
            "reset_on": FOLLOW_UP.start_on[1:],
        }
    )
    deal = Deal()
    assert run(rule, [deal.opened(day(0)), deal.activity(day(2))]) == Timer(day(2), day(9))
    assert run(rule, [deal.opened(day(0)), deal.won(day(1)), deal.activity(day(2))]) is None


def test_when_conditions_gate_the_start() -> None:
    big = FOLLOW_UP.model_copy(update={"when": When(amount_gte=500_000, region_in=["east"])})
    assert run(big, [Deal().opened(day(0), amount=100_000)]) is None
    assert run(big, [Deal().opened(day(0), amount=900_000)]) is not None
    assert run(big, [Deal(region="south").opened(day(0), amount=900_000)]) is None
    staged = FOLLOW_UP.model_copy(update={"when": When(stage_in=["negotiation"])})
    assert run(staged, [Deal().opened(day(0))]) is None


def test_a_running_timer_ends_when_the_deal_leaves_what_when_asks_for() -> None:
    # started in negotiation; nothing in the rule cancels on a stage move, `when` still does
    staged = FOLLOW_UP.model_copy(update={"when": When(stage_in=["lead", "negotiation"])})
    deal = Deal()
    assert run(staged, [deal.opened(day(0))]) == Timer(day(0), day(7))
    moved = [deal.opened(day(0)), deal.advanced(day(2), "initial_contact")]
    assert run(staged, moved) is None
    assert simulate(staged, "opp-1", moved, as_of=day(30)) == []
    back_in = [*moved, deal.advanced(day(3), "negotiation"), deal.activity(day(4))]
    assert run(staged, back_in) == Timer(day(4), day(11))


def test_replanning_after_a_rule_change_uses_the_new_duration_from_the_same_start() -> None:
    deal = Deal()
    history = [deal.opened(day(0)), deal.activity(day(4))]
    shorter = FOLLOW_UP.model_copy(update={"after": "P3D"})
    assert replan(FOLLOW_UP, "opp-1", history) == Timer(day(4), day(11))
    assert replan(shorter, "opp-1", history) == Timer(day(4), day(7))


def test_replanning_sorts_history_by_business_time() -> None:
    deal = Deal()
    history = [deal.activity(day(4)), deal.opened(day(0)), deal.activity(day(2))]
    assert replan(FOLLOW_UP, "opp-1", history) == Timer(day(4), day(11))


def test_simulation_fires_each_gap_once_at_its_due_time() -> None:
    deal = Deal()
    history = [deal.opened(day(0)), deal.activity(day(10)), deal.activity(day(12))]
    fired = simulate(FOLLOW_UP, "opp-1", history, as_of=day(30))
    assert [(f.started_at, f.due_at) for f in fired] == [(day(0), day(7)), (day(12), day(19))]


def test_simulation_ignores_what_comes_after_as_of() -> None:
    deal = Deal()
    history = [deal.opened(day(0)), deal.activity(day(3))]
    assert simulate(FOLLOW_UP, "opp-1", history, as_of=day(9)) == []
    assert [f.due_at for f in simulate(FOLLOW_UP, "opp-1", history, as_of=day(10))] == [day(10)]
    later = [*history, deal.activity(day(9))]
    assert [f.due_at for f in simulate(FOLLOW_UP, "opp-1", later, as_of=day(10))] == []
    assert [f.due_at for f in simulate(FOLLOW_UP, "opp-1", later, as_of=day(16))] == [day(16)]


def test_a_contact_before_the_due_time_is_logged_late() -> None:
    deal = Deal()
    assert resolution_reason(deal.activity(day(6)), due_at=day(7)) == LATE
    assert resolution_reason(deal.activity(day(8)), due_at=day(7)) == "customer contact logged"
    assert resolution_reason(deal.activity(day(8), kind="interview"), day(7)) == "interview held"
    assert resolution_reason(deal.won(day(8)), day(7)) == "opportunity won"
