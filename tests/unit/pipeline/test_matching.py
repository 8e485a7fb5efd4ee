"""Which deal a synced log lands on, and which accounts its contact reaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.pipeline_svc.domain.matching import AccountOfRecord, DealCandidate, choose

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def deal(opp: str, account: str, region: str, days: int, stakeholder: bool) -> DealCandidate:
    return DealCandidate(opp, account, region, T0 + timedelta(days=days), stakeholder)


def test_nothing_reached_is_no_match() -> None:
    assert choose([], []) is None
    assert choose([AccountOfRecord("east-cust", "east")], []) is None


def test_a_stakeholder_of_the_contact_s_own_region_outranks_its_account() -> None:
    accounts = [AccountOfRecord("east-cust", "east")]
    deals = [
        deal("acct-deal", "east-cust", "east", 5, stakeholder=False),
        deal("group-deal", "east-hq", "east", 1, stakeholder=True),
    ]
    match = choose(accounts, deals)
    assert match is not None
    assert (match.opportunity_id, match.other_accounts) == ("group-deal", ["east-cust"])


def test_a_stakeholder_on_another_region_s_deal_never_outranks_the_owning_account() -> None:
    accounts = [AccountOfRecord("east-cust", "east")]
    steered = deal("south-deal", "south-cust", "south", 9, stakeholder=True)
    match = choose(accounts, [steered, deal("east-deal", "east-cust", "east", 1, False)])
    assert match is not None
    assert (match.opportunity_id, match.other_accounts) == ("east-deal", [])
    assert choose(accounts, [steered]) is None, "it never becomes a landing place"


def test_a_stakeholder_contact_no_account_lists_lands_on_its_deal() -> None:
    match = choose([], [deal("d", "acme", "south", 0, stakeholder=True)])
    assert match is not None and match.opportunity_id == "d"


def test_accounts_of_several_regions_are_all_named_and_the_newest_deal_takes_the_log() -> None:
    accounts = [AccountOfRecord("grp-east", "east"), AccountOfRecord("grp-south", "south")]
    deals = [deal("e", "grp-east", "east", 1, False), deal("s", "grp-south", "south", 2, False)]
    match = choose(accounts, deals)
    assert match is not None
    assert (match.opportunity_id, match.account_id, match.other_accounts) == (
        "s",
        "grp-south",
        ["grp-east"],
    )
