"""Where a stage's work falls in a deal's stay: the gate's package, follow-ups, extra
stakeholders, and how completely each document is filled under the profile."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.contracts.playbook import (
    ActivityRequirement,
    ArtifactRequirement,
    PlaybookDefinition,
    Requirement,
)
from shared.demo.gate import GateState, fields_for, missing, requirements
from shared.demo.profiles import CONFIRMATION_STAGE, Profile

FOLLOW_UP_KINDS = ("call", "email", "visit", "meeting")


def days(rng: random.Random, mean: float, shape: float = 2.0) -> timedelta:
    """A gamma-distributed duration with the given mean (shape 2: skewed, rarely tiny)."""
    return timedelta(days=rng.gammavariate(shape, mean / shape))


@dataclass
class Step:
    at: datetime
    #: activity | package_activity | artifact | stakeholder | attempt (an early advance)
    action: str
    args: dict[str, Any]


class StayPlanner:
    def __init__(
        self, rng: random.Random, profile: Profile, playbook: PlaybookDefinition, state: GateState
    ) -> None:
        self.rng, self.profile, self.playbook, self.state = rng, profile, playbook, state
        self.sparse_docs = self.sparse_confirmation_docs(
            rng.random() < profile.complete_confirmation
        )

    def at(self, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * self.rng.uniform(0.1, 0.95)

    def package(self, start: datetime, end: datetime) -> list[Step]:
        """What the gate asks to leave this stage, each placed somewhere in the stay."""
        steps: list[Step] = []
        unmet = missing(self.state, self.playbook)
        for req in unmet:
            steps += self._satisfy(req, start, end)
        return steps

    def _satisfy(self, req: Requirement, start: datetime, end: datetime) -> list[Step]:
        if isinstance(req, ArtifactRequirement):
            return self._document(req.artifact, start, end, req.min_fill_rate)
        if isinstance(req, ActivityRequirement):
            kind = self.rng.choice(req.activity_kinds)
            return [
                Step(self.at(start, end), "package_activity", {"kind": kind, "next_step": True})
            ]
        free = [x.key for x in self.playbook.stakeholder_roles if x.key not in self.state.roles]
        self.rng.shuffle(free)
        wanted = free[: max(0, req.min_roles - len(self.state.roles))]
        return [Step(self.at(start, end), "stakeholder", {"role": role}) for role in wanted]

    def _document(self, key: str, start: datetime, end: datetime, min_fill: float) -> list[Step]:
        kind = self.playbook.artifact_kind(key)
        assert kind is not None
        optional = [f.name for f in kind.fields if not f.required]
        if self.state.stage == CONFIRMATION_STAGE:
            chosen = set(optional) if key not in self.sparse_docs else self.proper_subset(optional)
        else:
            chosen = {f for f in optional if self.rng.random() < self.profile.optional_fill}
        if fields_for(kind, chosen, 0)[1] < min_fill:
            chosen = set(optional)
        final = Step(self.at(start, end), "artifact", {"kind": key, "optional": chosen})
        if optional and self.rng.random() < self.profile.draft_first:
            draft = Step(
                start + (final.at - start) * 0.5, "artifact", {"kind": key, "optional": set()}
            )
            return [draft, final]
        return [final]

    def proper_subset(self, names: list[str]) -> set[str]:
        return (
            {n for n in names if self.rng.random() < 0.5} - {self.rng.choice(names)}
            if names
            else set()
        )

    def sparse_confirmation_docs(self, complete: bool) -> set[str]:
        """Which requirement-confirmation documents this deal leaves incomplete (none if complete)."""
        if complete or not any(s.key == CONFIRMATION_STAGE for s in self.playbook.stages):
            return set()
        docs = [
            r.artifact
            for r, _ in requirements(self.playbook, CONFIRMATION_STAGE)
            if isinstance(r, ArtifactRequirement)
            and any(not f.required for f in self.playbook.artifact_kind(r.artifact).fields)  # type: ignore[union-attr]
        ]
        picked = {d for d in docs if self.rng.random() < 0.6}
        return picked or ({self.rng.choice(docs)} if docs else set())

    def follow_ups(self, start: datetime, end: datetime) -> list[Step]:
        steps: list[Step] = []
        t = start
        while True:
            t += days(self.rng, self.profile.follow_up_days, shape=1.5)
            if t >= end:
                return steps
            kind = self.rng.choice(FOLLOW_UP_KINDS)
            steps.append(Step(t, "activity", {"kind": kind, "next_step": self.rng.random() < 0.6}))

    def extra_roles(self, start: datetime, end: datetime) -> list[Step]:
        """Stakeholders mapped beyond the gates' minimum, early in the deal (after profile)."""
        if self.state.stage != "initial_contact":
            return []
        free = [x.key for x in self.playbook.stakeholder_roles if x.key not in self.state.roles]
        self.rng.shuffle(free)
        wanted = free[: self.profile.extra_roles]
        return [Step(self.at(start, end), "stakeholder", {"role": role}) for role in wanted]
