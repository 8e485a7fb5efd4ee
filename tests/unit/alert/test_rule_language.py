"""The rule language: what parses, and each way a rule is refused with the path of the bad field."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from services.alert_svc.domain.seed import SEED_RULES
from shared.contracts.rules import RuleDefinition, parse_duration


def valid(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "quiet negotiation",
        "message": "call the customer",
        "start_on": [{"event": "StageAdvanced", "where": {"to_stage": "negotiation"}}],
        "cancel_on": [{"event": "OpportunityWon"}],
        "after": "P5D",
        "route_to": ["owner"],
    }
    body.update(changes)
    return body


def errors_of(body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        RuleDefinition.model_validate(body)
    return {".".join(str(p) for p in e["loc"]): e["msg"] for e in caught.value.errors()}


def test_the_seed_rules_survive_a_json_round_trip() -> None:
    for rule in SEED_RULES.values():
        assert RuleDefinition.model_validate(rule.model_dump(mode="json")) == rule


def test_a_rule_reads_from_yaml() -> None:
    text = """
name: golden 72 hours
message: interview the customer
start_on: [{event: OpportunityOpened}]
cancel_on:
  - event: ActivityLogged
    where: {kind: [interview], customer_facing: true}
after: PT72H
when: {region_in: [east], amount_gte: 50000}
route_to: [owner, owner_supervisor]
severity: high
"""
    rule = RuleDefinition.model_validate(yaml.safe_load(text))
    assert rule.duration == timedelta(hours=72)
    assert rule.cancel_on[0].where == {"kind": ["interview"], "customer_facing": True}
    assert rule.action == "alert"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P7D", timedelta(days=7)),
        ("PT72H", timedelta(hours=72)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT12H30M5S", timedelta(days=1, hours=12, minutes=30, seconds=5)),
    ],
)
def test_durations_are_iso_8601(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["7d", "P", "PT", "P1M", "P1Y", "P1DT", "-P1D", "P1.5D", ""])
def test_vague_or_malformed_durations_are_refused(text: str) -> None:
    assert "after" in errors_of(valid(after=text))


def test_a_zero_duration_is_refused() -> None:
    assert "longer than zero" in errors_of(valid(after="PT0S"))["after"]


def test_an_unknown_event_is_named_by_its_path() -> None:
    assert "start_on.0.event" in errors_of(valid(start_on=[{"event": "DealStalled"}]))


def test_a_filter_on_a_field_the_event_lacks_is_named_by_its_path() -> None:
    found = errors_of(valid(cancel_on=[{"event": "ActivityLogged", "where": {"knd": "call"}}]))
    assert "knd" in found["cancel_on.0.where"]


def test_filters_on_identity_fields_are_refused() -> None:
    assert "reset_on.0.where" in errors_of(
        valid(reset_on=[{"event": "ActivityLogged", "where": {"occurred_at": "x"}}])
    )


def test_a_rule_needs_a_start_event() -> None:
    assert "start_on" in errors_of(valid(start_on=[]))


def test_a_rule_routes_to_at_least_one_known_role_each_once() -> None:
    assert "route_to" in errors_of(valid(route_to=[]))
    assert "route_to.0" in errors_of(valid(route_to=["ceo"]))
    assert "twice" in errors_of(valid(route_to=["owner", "owner"]))["route_to"]


def test_severity_and_action_are_closed_lists() -> None:
    found = errors_of(valid(severity="urgent", action="email"))
    assert {"severity", "action"} <= set(found)


def test_conditions_are_checked() -> None:
    found = errors_of(valid(when={"amount_gte": -1, "stage_in": [], "colour": "red"}))
    assert {"when.amount_gte", "when.stage_in", "when.colour"} <= set(found)


def test_missing_and_unknown_top_level_fields_are_named() -> None:
    body = valid(priority=1)
    del body["name"], body["message"]
    assert {"name", "message", "priority"} <= set(errors_of(body))


def test_a_match_without_filters_matches_any_event_of_its_type() -> None:
    rule = RuleDefinition.model_validate(valid(start_on=[{"event": "OpportunityOpened"}]))
    assert rule.start_on[0].where == {}
