"""Routing relative to the subject, the alert lifecycle and who may see an alert."""

from __future__ import annotations

import pytest

from services.alert_svc.domain.alert import Alert
from services.alert_svc.domain.errors import AlertClosedError
from services.alert_svc.domain.permissions import may_see
from services.alert_svc.domain.routing import Directory, Member, recipients
from shared.contracts import alert as av
from shared.identity import Principal
from tests.unit.alert.builders import day

ORG = Directory(
    [
        Member("rep-1", "rep", "east", "east-1", manager_id="sup-1"),
        Member("rep-2", "rep", "east", "east-2"),
        Member("sup-1", "supervisor", "east", "east-1", manager_id="rm-1"),
        Member("sup-2", "supervisor", "east", "east-2", manager_id="rm-1"),
        Member("rm-1", "regional_manager", "east", "east-0"),
        Member("rm-2", "regional_manager", "east", "east-0"),
        Member("rm-s", "regional_manager", "south", "south-0"),
    ]
)


def test_the_owners_supervisor_is_their_manager() -> None:
    assert recipients(["owner_supervisor"], "rep-1", "east-1", "east", ORG) == ["sup-1"]


def test_without_a_manager_the_teams_supervisor_is_chosen() -> None:
    assert recipients(["owner_supervisor"], "rep-2", "east-2", "east", ORG) == ["sup-2"]
    assert recipients(["owner_supervisor"], "rep-unknown", "east-2", "east", ORG) == ["sup-2"]


def test_regional_managers_are_those_of_the_subjects_region() -> None:
    assert recipients(["regional_manager"], "rep-1", "east-1", "east", ORG) == ["rm-1", "rm-2"]
    assert recipients(["regional_manager"], "x", "south-1", "south", ORG) == ["rm-s"]


def test_several_roles_route_to_each_person_once_in_role_order() -> None:
    roles = ["owner", "owner_supervisor", "regional_manager"]
    assert recipients(roles, "rep-1", "east-1", "east", ORG) == ["rep-1", "sup-1", "rm-1", "rm-2"]


def test_a_role_nobody_holds_adds_no_one() -> None:
    assert recipients(["owner_supervisor"], "rep-9", "west-1", "west", ORG) == []


def raised() -> av.AlertRaised:
    return av.AlertRaised(
        occurred_at=day(7),
        alert_id="a-1",
        opportunity_id="opp-1",
        account_id="acct-1",
        region="east",
        team="east-1",
        owner_id="rep-1",
        rule_id="follow-up-gap",
        rule_version=1,
        rule_name="follow-up gap",
        message="supervisor intervention",
        recipients=["sup-1"],
        routed_to=["owner_supervisor"],
        severity="high",
        action="alert",
        started_at=day(0),
        due_at=day(7),
        raised_at=day(7),
    )


def test_an_alert_is_acknowledged_once_then_resolved_once() -> None:
    alert = Alert.fold("a-1", [raised()])
    ack = alert.acknowledge("sup-1", "calling the rep", day(8))
    assert len(ack) == 1
    alert.apply(ack[0])
    assert alert.acknowledge("sup-1", "again", day(8)) == []
    done = alert.resolve("resolved by hand", day(9), by="sup-1", comment="met the customer")
    alert.apply(done[0])
    assert alert.status == "resolved" and alert.version == 3
    with pytest.raises(AlertClosedError):
        alert.resolve("again", day(10))
    with pytest.raises(AlertClosedError):
        alert.acknowledge("sup-1", "", day(10))


def test_every_alert_event_carries_the_region_of_its_subject() -> None:
    alert = Alert.fold("a-1", [raised()])
    events = alert.acknowledge("sup-1", "", day(8)) + alert.resolve("x", day(8))
    assert all(getattr(e, "region", None) == "east" for e in events)


def who(sub: str, role: str, region: str = "east", team: str = "east-1") -> Principal:
    return Principal(sub, role, region, team)  # type: ignore[arg-type]


def test_recipients_their_managers_and_admins_see_an_alert() -> None:
    see = lambda p, below=(): may_see(p, "east", "east-1", ["sup-1"], below)  # noqa: E731
    assert see(who("sup-1", "supervisor", team="east-9"))
    assert see(who("rm-1", "regional_manager", team="east-0"))
    assert see(who("boss", "rep", team="east-0"), below=["sup-1"])
    assert see(who("admin", "admin", "hq", "hq"))
    assert see(who("sup-x", "supervisor"))  # the team's supervisor
    assert not see(who("rep-1", "rep"))
    assert not see(who("rm-s", "regional_manager", "south", "south-0"))
    assert not see(who("partner", "partner"))
