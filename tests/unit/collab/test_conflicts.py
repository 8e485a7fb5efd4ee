"""Conflict detection: a customer-facing contact by another region without a grant, and only that."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.collab_svc.domain.conflicts import detect, stream_id
from shared.contracts.pipeline import ActivityLogged

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def activity(region: str = "south", customer_facing: bool = True) -> ActivityLogged:
    return ActivityLogged(
        occurred_at=T0,
        opportunity_id="opp-1",
        account_id="acme",
        activity_id="act-1",
        kind="call",
        customer_facing=customer_facing,
        stage="lead",
        actor_id="rep-s",
        actor_region=region,
        source="phone_sync",
    )


@pytest.mark.parametrize(
    ("region", "customer_facing", "grant", "conflict"),
    [
        ("south", True, False, True),
        ("south", True, True, False),
        ("south", False, False, False),
        ("east", True, False, False),
        ("east", True, True, False),
    ],
)
def test_a_conflict_is_raised_only_for_ungranted_contact_from_another_region(
    region: str, customer_facing: bool, grant: bool, conflict: bool
) -> None:
    found = detect(activity(region, customer_facing), "east", "grp", grant)

    assert (found is not None) is conflict


def test_the_conflict_names_both_regions_and_sits_at_the_contact_time() -> None:
    found = detect(activity(), "east", "grp", holds_grant=False)

    assert found is not None
    assert (found.owning_region, found.contact_region, found.group_id) == ("east", "south", "grp")
    assert found.occurred_at == found.contact_at == T0
    assert (found.conflict_id, found.source) == ("act-1", "phone_sync")
    assert stream_id("act-1") == "conflict-act-1"


def test_a_contact_that_reached_another_account_is_judged_against_it_under_its_own_id() -> None:
    conflict = detect(activity("south"), "east", "grp", False, account_id="other-east")
    assert conflict is not None
    assert (conflict.account_id, conflict.conflict_id, conflict.activity_id) == (
        "other-east",
        "act-1:other-east",
        "act-1",
    )
    assert conflict.opportunity_id == "opp-1"
    assert detect(activity("south"), "south", None, False, account_id="own-south") is None
