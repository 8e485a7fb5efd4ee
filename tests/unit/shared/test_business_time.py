"""Who may date a command, how far back, and the order of a stream's business time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.business_time import BusinessTimePolicy, in_order, keep_order
from shared.contracts.collab import RegionDefined
from shared.errors import ValidationFailedError
from shared.identity import ROLES, Principal, Role

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = BusinessTimePolicy(backdate_window=timedelta(days=30), future_skew=timedelta(minutes=5))


def actor(role: Role) -> Principal:
    return Principal(sub=f"{role}-1", role=role, region="east", team="east-1")


def refused(role: Role, given: datetime, *, activity: bool = False) -> str:
    with pytest.raises(ValidationFailedError) as caught:
        POLICY.resolve(actor(role), given, NOW, activity=activity)
    assert caught.value.extensions == {"field": "occurred_at"}
    return caught.value.detail


@pytest.mark.parametrize("role", ROLES)
def test_no_given_time_is_the_clocks_now_for_everyone(role: Role) -> None:
    assert POLICY.resolve(actor(role), None, NOW) == NOW


@pytest.mark.parametrize("role", ["admin", "importer"])
@pytest.mark.parametrize("activity", [True, False])
def test_admins_and_the_importer_date_any_command_any_time_back(role: Role, activity: bool) -> None:
    years_ago = NOW - timedelta(days=3 * 365)

    assert POLICY.resolve(actor(role), years_ago, NOW, activity=activity) == years_ago


@pytest.mark.parametrize("role", ["rep", "supervisor", "regional_manager"])
def test_members_backdate_activities_up_to_the_window(role: Role) -> None:
    at = NOW - timedelta(days=30)

    assert POLICY.resolve(actor(role), at, NOW, activity=True) == at


@pytest.mark.parametrize("role", ["rep", "supervisor", "regional_manager"])
def test_members_may_not_backdate_an_activity_past_the_window(role: Role) -> None:
    detail = refused(role, NOW - timedelta(days=30, seconds=1), activity=True)

    assert "30 days" in detail


def test_the_window_is_a_setting() -> None:
    wide = BusinessTimePolicy(backdate_window=timedelta(days=60))
    at = NOW - timedelta(days=40)

    assert wide.resolve(actor("rep"), at, NOW, activity=True) == at


@pytest.mark.parametrize("role", ["rep", "supervisor", "regional_manager", "partner"])
def test_members_may_not_date_other_commands(role: Role) -> None:
    detail = refused(role, NOW - timedelta(hours=1))

    assert "may not date" in detail


def test_a_partner_may_not_backdate_activities_either() -> None:
    refused("partner", NOW - timedelta(days=1), activity=True)


@pytest.mark.parametrize("role", ["rep", "partner"])
def test_a_time_within_the_clock_skew_is_anyones(role: Role) -> None:
    for at in (NOW - timedelta(minutes=5), NOW + timedelta(minutes=5)):
        assert POLICY.resolve(actor(role), at, NOW) == at


@pytest.mark.parametrize("role", ROLES)
def test_nobody_dates_beyond_the_clock_skew_into_the_future(role: Role) -> None:
    detail = refused(role, NOW + timedelta(minutes=5, seconds=1), activity=True)

    assert "future" in detail


def test_a_naive_time_is_refused() -> None:
    refused("admin", datetime(2025, 1, 1, 9, 0))  # naive on purpose


@pytest.mark.parametrize(
    "at", [datetime(1989, 12, 31, 23, 59, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)]
)
def test_a_time_before_the_business_range_is_refused(at: datetime) -> None:
    assert "1990-01-01" in refused("importer", at)


def test_a_streams_time_may_stay_or_move_on() -> None:
    assert in_order(NOW, NOW, given=True) == NOW
    assert in_order(NOW + timedelta(days=1), NOW, given=True) == NOW + timedelta(days=1)
    assert in_order(NOW, None, given=True) == NOW


def test_a_given_time_before_the_streams_latest_is_refused() -> None:
    with pytest.raises(ValidationFailedError, match="never goes backwards") as caught:
        in_order(NOW - timedelta(seconds=1), NOW, given=True)

    assert caught.value.extensions == {"field": "occurred_at"}


def test_the_clocks_now_behind_a_skewed_event_moves_up_to_it() -> None:
    latest = NOW + timedelta(minutes=3)

    assert in_order(NOW, latest, given=False) == latest


def test_keep_order_moves_undated_events_and_keeps_dated_ones() -> None:
    event = RegionDefined(occurred_at=NOW, region_id="east", name="East", actor_id="admin")
    latest = NOW + timedelta(minutes=2)

    [moved] = keep_order([event], latest, dated=False)

    assert (moved.occurred_at, moved.region_id) == (latest, "east")
    with pytest.raises(ValidationFailedError):
        keep_order([event], latest, dated=True)
    assert keep_order([event], NOW - timedelta(days=1), dated=True) == [event]
