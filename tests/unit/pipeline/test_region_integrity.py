"""Ownership follows the account: who moves the gate, reassign targets, stages a playbook lacks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.pipeline_svc.domain import commands as c
from services.pipeline_svc.domain.errors import MemberNotYetKnownError, StageNotInPlaybookError
from services.pipeline_svc.domain.permissions import Member, reassign_target
from shared.contracts import pipeline as ev
from shared.errors import ValidationFailedError
from shared.identity import Principal
from tests.unit.pipeline.builders import PLAYBOOK, Deal, new_deal

LEAD_ACTIVITY = "activity:call|email|visit|meeting|interview"
SOUTH_RM = Principal(sub="rm-s", role="regional_manager", region="south", team="s-1")
EAST_REP = Principal(sub="rep-east-1", role="rep", region="east", team="east-a")


def log_as(deal: Deal, actor: Principal, owning_region: str | None = None) -> ev.ActivityLogged:
    """Log a call as `actor` on the deal as a handler loads it (account now owned by
    `owning_region`, or still by the opening region)."""
    deal.actor = actor
    opp = deal.opp
    opp.owned_by(owning_region)
    cmd = c.LogActivity(
        opportunity_id=deal.opportunity_id, activity_id=f"a-{actor.sub}", kind="call"
    )
    (event,) = opp.log_activity(cmd, deal.playbook, actor, deal.now)
    assert isinstance(event, ev.ActivityLogged)
    deal.events.append(event)
    return event


def lead_missing(deal: Deal, owning_region: str | None = None) -> list[str]:
    opp = deal.opp
    opp.owned_by(owning_region)
    _, missing = opp.missing_for_next(PLAYBOOK)
    return [m.code for m in missing]


def test_an_activity_records_the_region_owning_the_account_when_it_was_logged() -> None:
    deal = new_deal()
    assert log_as(deal, EAST_REP).owning_region == "east"
    assert log_as(deal, SOUTH_RM, "south").owning_region == "south"


def test_after_a_transfer_the_new_owner_s_contact_opens_the_gate() -> None:
    deal = new_deal()
    log_as(deal, SOUTH_RM, "south")
    assert lead_missing(deal, "south") == []


def test_after_a_transfer_the_former_owner_s_contact_does_not_count() -> None:
    deal = new_deal()
    log_as(deal, EAST_REP, "south")
    assert lead_missing(deal, "south") == [LEAD_ACTIVITY]


def test_a_contact_by_the_owner_of_the_time_still_counts_after_a_transfer() -> None:
    deal = new_deal()
    log_as(deal, EAST_REP)
    assert lead_missing(deal, "south") == []


def test_an_activity_recorded_before_the_field_existed_is_judged_by_the_opening_region() -> None:
    deal = new_deal()
    event = log_as(deal, EAST_REP)
    deal.events[-1] = event.model_copy(update={"owning_region": None})
    assert lead_missing(deal, "south") == []
    deal.events[-1] = event.model_copy(update={"owning_region": None, "actor_region": "south"})
    assert lead_missing(deal, "south") == [LEAD_ACTIVITY]


def test_a_stage_the_playbook_lacks_is_named_instead_of_crashing() -> None:
    deal = new_deal()
    deal.events.append(
        ev.StageAdvanced(
            occurred_at=datetime(2025, 3, 4, tzinfo=UTC),
            opportunity_id=deal.opportunity_id,
            account_id="acc-huadong-steel",
            from_stage="lead",
            to_stage="pilot",
            playbook_version=1,
            days_in_previous_stage=1.0,
        )
    )
    with pytest.raises(StageNotInPlaybookError) as refused:
        deal.advance()
    assert refused.value.extensions["stage"] == "pilot"
    deal.later(hours=1)
    assert deal.lose()[0].event_name == "OpportunityLost"


MEMBER = Member("rep-7", "east", "east-2", "rep")


def test_reassign_goes_to_the_member_s_own_team() -> None:
    assert reassign_target(MEMBER, "rep-7", None, "east") == "east-2"
    assert reassign_target(MEMBER, "rep-7", "east-2", "east") == "east-2"


@pytest.mark.parametrize(
    ("member", "team", "field"),
    [
        (replace(MEMBER, region="south"), None, "to_owner"),
        (replace(MEMBER, role="partner"), None, "to_owner"),
        (MEMBER, "east-1", "team"),
    ],
)
def test_reassign_refuses_other_regions_non_owners_and_wrong_teams(
    member: Member, team: str | None, field: str
) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        reassign_target(member, "rep-7", team, "east")
    assert refused.value.extensions["field"] == field


def test_reassign_to_a_member_not_yet_known_asks_to_retry() -> None:
    with pytest.raises(MemberNotYetKnownError) as refused:
        reassign_target(None, "rep-new", None, "east")
    assert "retry" in refused.value.detail
