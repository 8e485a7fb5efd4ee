"""The rule language of alert_svc as data: timer rules over an opportunity (JSON or YAML).

Part of the event contract because `RuleDefined` and `RuleChanged` carry a whole definition.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.contracts import pipeline as pv

#: the pipeline events a rule may start, reset or cancel a timer on
TRIGGERS: dict[str, type[pv.OpportunityEvent]] = {
    m.event_name: m
    for m in (
        pv.OpportunityOpened,
        pv.ActivityLogged,
        pv.ArtifactSubmitted,
        pv.StakeholderMapped,
        pv.StageAdvanced,
        pv.StageAdvanceBlocked,
        pv.OpportunityReassigned,
        pv.OpportunityWon,
        pv.OpportunityLost,
    )
}
TriggerName = Literal[
    "OpportunityOpened",
    "ActivityLogged",
    "ArtifactSubmitted",
    "StakeholderMapped",
    "StageAdvanced",
    "StageAdvanceBlocked",
    "OpportunityReassigned",
    "OpportunityWon",
    "OpportunityLost",
]
RouteRole = Literal["owner", "owner_supervisor", "regional_manager"]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}
Scalar = str | int | float | bool
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]

_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """ISO 8601 durations in weeks, days, hours, minutes, seconds (months and years are vague)."""
    found = _DURATION.match(text)
    if not found or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P7D, PT72H or P1DT12H")
    parts = {k: int(v) for k, v in found.groupdict().items() if v is not None}
    return timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EventMatch(Strict):
    """An event type, optionally narrowed by its fields: a value must equal, a list must contain."""

    event: TriggerName
    where: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict,
        examples=[{"kind": ["interview"], "customer_facing": True}],
    )

    @field_validator("where")
    @classmethod
    def _known_fields(
        cls, where: dict[str, Scalar | list[Scalar]], info: ValidationInfo
    ) -> dict[str, Scalar | list[Scalar]]:
        event = info.data.get("event")
        if event is None:
            return where  # the event name itself is invalid: reported on its own
        fields = TRIGGERS[event].model_fields
        for name in where:
            if name not in fields or name in ("occurred_at", "opportunity_id", "account_id"):
                raise ValueError(f"{event} has no field {name!r} to filter on")
        return where

    def matches(self, event: Any) -> bool:
        if getattr(event, "event_name", None) != self.event:
            return False
        for name, wanted in self.where.items():
            value = getattr(event, name, None)
            if isinstance(wanted, list):
                if value not in wanted:
                    return False
            elif value != wanted:
                return False
        return True


class When(Strict):
    """Conditions on the opportunity's projected state when a timer (re)starts; all must hold."""

    stage_in: list[str] | None = Field(default=None, min_length=1)
    region_in: list[str] | None = Field(default=None, min_length=1)
    amount_gte: Decimal | None = Field(default=None, ge=0)
    previous_stage_dwell_days_gt: float | None = Field(default=None, ge=0)


class RuleDefinition(Strict):
    """A timer rule: start on one event, reset or cancel on others, fire when it expires."""

    name: str = Field(min_length=1, max_length=200, examples=["follow-up gap"])
    description: str = Field(default="", max_length=2000)
    #: the alert's headline, e.g. "supervisor intervention"
    message: str = Field(min_length=1, max_length=500)
    start_on: list[EventMatch] = Field(min_length=1, max_length=20)
    reset_on: list[EventMatch] = Field(default_factory=list, max_length=20)
    cancel_on: list[EventMatch] = Field(default_factory=list, max_length=20)
    after: str = Field(examples=["P7D", "PT72H"], description="ISO 8601 duration (W, D, H, M, S)")
    when: When = Field(default_factory=When)
    route_to: list[RouteRole] = Field(min_length=1, max_length=3)
    severity: Severity = "medium"
    action: Literal["alert", "risk_report"] = "alert"

    @field_validator("after")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError("the duration must be longer than zero")
        return value

    @field_validator("route_to")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(value) != len(set(value)):
            raise ValueError("a role is listed twice")
        return value

    @property
    def duration(self) -> timedelta:
        return parse_duration(self.after)
