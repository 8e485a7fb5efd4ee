"""Events published by scoring_svc on `scoring.events`: the scoring model, weekly scores, forecasts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.base import DomainEvent
from shared.events.registry import registry


class ScoringEvent(DomainEvent):
    domain: ClassVar[str] = "scoring"


class ComponentScore(BaseModel):
    """One component of a health score: its weight after rescaling and its value in [0, 1]."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    key: str
    weight: float
    value: float
    subjects: int = Field(ge=0)


@registry.register
class ScoringModelChanged(ScoringEvent):
    """Admins changed the weights, targets or stage probabilities; applies from the next run."""

    event_name: ClassVar[str] = "ScoringModelChanged"
    weights: dict[str, float]
    revisit_target: float = Field(gt=0)
    completeness_target: float = Field(gt=0)
    roles_target: float = Field(gt=0)
    requirement_kinds: dict[str, str]
    completeness_from_stage: str
    competitive_from_stage: str
    stage_probabilities: dict[str, float]
    actor_id: str


@registry.register
class HealthScoreComputed(ScoringEvent):
    """A closed ISO week's health score (行为健康度) of a rep, team or region."""

    event_name: ClassVar[str] = "HealthScoreComputed"
    scope: Literal["rep", "team", "region"]
    scope_id: str
    week: str
    score: float | None
    components: list[ComponentScore] = Field(default_factory=list)
    model_version: int = Field(ge=0)
    revision: int = Field(ge=1)
    week_ends_at: datetime


@registry.register
class ForecastPublished(ScoringEvent):
    """A quarter's forecast as of its first day: stage-weighted and behaviour-based."""

    event_name: ClassVar[str] = "ForecastPublished"
    quarter: str
    as_of: datetime
    region: str | None = None
    stage_weighted: Decimal
    behaviour_based: Decimal | None = None
    method_note: str = ""
    deals: int = Field(ge=0)
