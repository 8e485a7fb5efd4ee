"""A deal as the playbook's gates see it, so the demo knows which advances pass and which are
blocked before it sends them. It reads the gates from the published `PlaybookDefinition`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.contracts.playbook import (
    ActivityRequirement,
    ArtifactKind,
    ArtifactRequirement,
    PlaybookDefinition,
    Requirement,
    StakeholderRolesRequirement,
)

COMPLETE = 0.9  # the fill rate from which a document counts as complete (KPI definition)


@dataclass
class GateState:
    """What the owning region has put on a deal: activities, best fill rates, roles."""

    stage: str
    #: (kind, stage it was logged in, had a next step)
    activities: list[tuple[str, str, bool]] = field(default_factory=list)
    best_fill: dict[str, float] = field(default_factory=dict)
    roles: set[str] = field(default_factory=set)

    def log(self, kind: str, next_step: bool) -> None:
        self.activities.append((kind, self.stage, next_step))

    def submit(self, kind: str, fill_rate: float) -> None:
        self.best_fill[kind] = max(fill_rate, self.best_fill.get(kind, 0.0))

    def met(self, req: Requirement, stage: str) -> bool:
        if isinstance(req, ArtifactRequirement):
            best = self.best_fill.get(req.artifact)
            return best is not None and best >= req.min_fill_rate
        if isinstance(req, ActivityRequirement):
            return any(
                kind in req.activity_kinds
                and (not req.in_stage or at == stage)
                and (not req.require_next_step or step)
                for kind, at, step in self.activities
            )
        assert isinstance(req, StakeholderRolesRequirement)
        return len(self.roles) >= req.min_roles


def next_stage(playbook: PlaybookDefinition, stage: str) -> str:
    nxt = playbook.next_stage(stage)
    return nxt.key if nxt else "won"


def requirements(playbook: PlaybookDefinition, stage: str) -> list[tuple[Requirement, str]]:
    """What leaving `stage` asks: its exit package, then the next stage's entry package,
    each with the stage it is judged in."""
    to = next_stage(playbook, stage)
    out: list[tuple[Requirement, str]] = [(r, stage) for r in playbook.stage(stage).exit]
    if to != "won":
        out += [(r, to) for r in playbook.stage(to).entry]
    return out


def missing(state: GateState, playbook: PlaybookDefinition) -> list[Requirement]:
    return [r for r, judged in requirements(playbook, state.stage) if not state.met(r, judged)]


def field_value(spec_type: str, name: str, serial: int) -> Any:
    """A plausible value of a field's type (the pipeline checks types, the demo fills them)."""
    if spec_type == "number":
        return 100_000 + serial * 1_000
    if spec_type == "boolean":
        return True
    if spec_type == "date":
        return "2027-06-30"
    if spec_type == "list":
        return [f"{name.replace('_', ' ')} {serial}", f"{name.replace('_', ' ')} {serial + 1}"]
    return f"{name.replace('_', ' ')} noted in meeting {serial}"


def fields_for(kind: ArtifactKind, optional: set[str], serial: int) -> tuple[dict[str, Any], float]:
    """The required fields plus the optional ones named; returns them and their fill rate."""
    chosen = [f for f in kind.fields if f.required or f.name in optional]
    values = {f.name: field_value(f.type, f.name, serial) for f in chosen}
    return values, round(len(chosen) / len(kind.fields), 4)
