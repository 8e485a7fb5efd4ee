"""The scoring model admins change: weights, targets, requirement kinds, stage probabilities."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

REVISIT = "revisit_frequency"
COMPLETENESS = "requirement_completeness"
KEY_PERSONS = "key_person_coverage"
COMPETITIVE = "competitive_response_plan"
COMPONENTS = (REVISIT, COMPLETENESS, KEY_PERSONS, COMPETITIVE)
COMPETITIVE_KIND = "competitive_response_plan"


class InvalidModelError(ValueError):
    def __init__(self, field_name: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field_name


DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {REVISIT: 0.20, COMPLETENESS: 0.30, KEY_PERSONS: 0.25, COMPETITIVE: 0.25}
)
DEFAULT_KINDS: Mapping[str, str] = MappingProxyType(
    {"requirement_checklist": "initial_contact", "needs_interview_notes": "needs_confirmed"}
)
DEFAULT_PROBABILITIES: Mapping[str, float] = MappingProxyType(
    {
        "lead": 0.05,
        "initial_contact": 0.10,
        "needs_confirmed": 0.20,
        "solution_demo": 0.40,
        "negotiation": 0.60,
        "closing": 0.80,
    }
)


@dataclass(frozen=True)
class ScoringModel:
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    revisit_target: float = 2.0
    completeness_target: float = 0.90
    roles_target: float = 3.0
    #: requirement kind → the stage from which it applies
    requirement_kinds: Mapping[str, str] = field(default_factory=lambda: DEFAULT_KINDS)
    completeness_from_stage: str = "initial_contact"
    competitive_from_stage: str = "needs_confirmed"
    stage_probabilities: Mapping[str, float] = field(default_factory=lambda: DEFAULT_PROBABILITIES)
    #: the scoring-model stream's version (0: the defaults, never changed)
    version: int = 0

    def validate(self) -> None:
        if set(self.weights) != set(COMPONENTS):
            raise InvalidModelError("weights", f"weights must name exactly {', '.join(COMPONENTS)}")
        if any(not math.isfinite(w) or w < 0 or w > 1 for w in self.weights.values()):
            raise InvalidModelError("weights", "each weight must lie in [0, 1]")
        if abs(sum(self.weights.values()) - 1.0) > 1e-9:
            raise InvalidModelError("weights", "weights must sum to 1")
        for name in ("revisit_target", "completeness_target", "roles_target"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidModelError(name, f"{name} must be positive")
        if not self.requirement_kinds:
            raise InvalidModelError("requirement_kinds", "at least one requirement kind")
        if any(not (math.isfinite(p) and 0 <= p <= 1) for p in self.stage_probabilities.values()):
            raise InvalidModelError("stage_probabilities", "probabilities must lie in [0, 1]")


def round_half_up(x: float, places: int) -> float:
    """Decimal rounding as people do it by hand (2.25 → 2.3), immune to float noise."""
    exact = Decimal(repr(round(x, 9)))
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
