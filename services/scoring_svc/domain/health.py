"""The weekly behaviour health index (行为健康度) of reps, teams and regions, as DESIGN.md defines it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.scoring_svc.domain import model as m
from services.scoring_svc.domain.ledger import Deal, Ledger
from services.scoring_svc.domain.model import ScoringModel, round_half_up

ACTIONS = {
    m.REVISIT: "log customer-facing follow-ups (target {target:g} a week)",
    m.COMPLETENESS: "complete the requirement documents (fill rate {target:g})",
    m.KEY_PERSONS: "map more stakeholder roles (target {target:g})",
    m.COMPETITIVE: "file a competitive response plan",
}


@dataclass(frozen=True)
class OpportunityValue:
    opportunity_id: str
    value: float
    detail: dict[str, object]


@dataclass(frozen=True)
class Component:
    key: str
    #: the model's weight, and the weight after rescaling over the components that apply
    model_weight: float
    weight: float
    value: float
    opportunities: list[OpportunityValue]


@dataclass(frozen=True)
class Suggestion:
    component: str
    opportunity_id: str
    gain: float
    action: str


@dataclass(frozen=True)
class RepHealth:
    rep_id: str
    score: float | None
    components: list[Component]
    raise_most: list[Suggestion] = field(default_factory=list)


def _reached(order: tuple[str, ...], stage: str, threshold: str) -> bool:
    if stage not in order or threshold not in order:
        return False
    return order.index(stage) >= order.index(threshold)


def _values(
    ledger: Ledger, model: ScoringModel, deal: Deal, end: datetime
) -> dict[str, OpportunityValue]:
    """The component values of one subject as of E (only the components that apply to it)."""
    oid = deal.opportunity_id
    stage = deal.stage_at(end)
    order = ledger.stages(end)
    out: dict[str, OpportunityValue] = {}
    start = end - timedelta(days=7)
    a = sum(1 for x in deal.activities if start <= x.at < end and ledger.customer_facing(deal, x))
    out[m.REVISIT] = OpportunityValue(oid, min(1.0, a / model.revisit_target), {"activities": a})
    if _reached(order, stage, model.completeness_from_stage):
        kinds = [k for k, since in model.requirement_kinds.items() if _reached(order, stage, since)]
        best = {k: deal.best_fill(k, end) for k in kinds}
        f = sum(best.values()) / len(best) if best else 0.0
        out[m.COMPLETENESS] = OpportunityValue(
            oid, min(1.0, f / model.completeness_target), {"best_fill_rates": best, "mean": f}
        )
    roles = deal.roles_before(end)
    out[m.KEY_PERSONS] = OpportunityValue(
        oid, min(1.0, len(roles) / model.roles_target), {"roles": sorted(roles)}
    )
    if _reached(order, stage, model.competitive_from_stage):
        filed = any(x.kind == m.COMPETITIVE_KIND and x.at < end for x in deal.artifacts)
        out[m.COMPETITIVE] = OpportunityValue(oid, 1.0 if filed else 0.0, {"filed": filed})
    return out


def subjects_by_rep(ledger: Ledger, end: datetime) -> dict[str, list[Deal]]:
    """Deals open at E, by the rep owning them at E."""
    out: dict[str, list[Deal]] = defaultdict(list)
    for deal in ledger.deals.values():
        if deal.open_at(end):
            out[deal.owner_at(end)[0]].append(deal)
    return out


def rep_health(
    ledger: Ledger, model: ScoringModel, rep_id: str, subjects: list[Deal], end: datetime
) -> RepHealth:
    per: dict[str, list[OpportunityValue]] = defaultdict(list)
    for deal in sorted(subjects, key=lambda d: d.opportunity_id):
        for key, value in _values(ledger, model, deal, end).items():
            per[key].append(value)
    present = [k for k in m.COMPONENTS if per[k]]
    if not present:
        return RepHealth(rep_id, None, [])
    total = sum(model.weights[k] for k in present)
    components = [
        Component(
            k,
            model.weights[k],
            model.weights[k] / total if total else 0.0,
            sum(v.value for v in per[k]) / len(per[k]),
            per[k],
        )
        for k in present
    ]
    score = round_half_up(100 * sum(c.weight * c.value for c in components), 1)
    return RepHealth(rep_id, score, components, _suggestions(model, components))


def _suggestions(
    model: ScoringModel, components: list[Component], top: int = 3
) -> list[Suggestion]:
    """Raising one opportunity's value to 1 lifts the score by 100 × w × (1 − v) / n."""
    targets = {
        m.REVISIT: model.revisit_target,
        m.COMPLETENESS: model.completeness_target,
        m.KEY_PERSONS: model.roles_target,
        m.COMPETITIVE: 1.0,
    }
    found = [
        Suggestion(
            c.key,
            o.opportunity_id,
            round_half_up(100 * c.weight * (1 - o.value) / len(c.opportunities), 1),
            ACTIONS[c.key].format(target=targets[c.key]),
        )
        for c in components
        for o in c.opportunities
        if o.value < 1
    ]
    return sorted(found, key=lambda s: (-s.gain, s.component, s.opportunity_id))[:top]


def week_scores(ledger: Ledger, model: ScoringModel, end: datetime) -> dict[str, RepHealth]:
    """Every rep with a subject at E, plus every rep the directory places anywhere at E."""
    subjects = subjects_by_rep(ledger, end)
    reps = set(subjects) | {
        member for member in ledger.members if (p := ledger.position(member, end)) and p[2] == "rep"
    }
    return {r: rep_health(ledger, model, r, subjects.get(r, []), end) for r in sorted(reps)}


def team_members(ledger: Ledger, end: datetime) -> dict[str, tuple[str, list[str]]]:
    """team → (region, members) by the directory at E (business time)."""
    teams: dict[str, tuple[str, list[str]]] = {}
    for member in sorted(ledger.members):
        pos = ledger.position(member, end)
        if pos is not None:
            region, team, _ = pos
            teams.setdefault(team, (region, []))[1].append(member)
    return teams


def mean_2dp(scores: list[float]) -> float | None:
    return round_half_up(sum(scores) / len(scores), 2) if scores else None


def team_score(members: list[str], reps: dict[str, RepHealth]) -> float | None:
    """The mean of the members' published (one-decimal) scores, members without one left out."""
    return mean_2dp([s for r in members if (h := reps.get(r)) and (s := h.score) is not None])


@dataclass(frozen=True)
class Rollup:
    """A team's or region's score and what it is the mean of."""

    scope_id: str
    region: str
    score: float | None
    parts: dict[str, float | None]


def rollups(
    ledger: Ledger, reps: dict[str, RepHealth], end: datetime
) -> tuple[dict[str, Rollup], dict[str, Rollup]]:
    """Teams (mean of members' scores) and regions (mean of their teams' two-decimal scores)."""
    teams: dict[str, Rollup] = {}
    for team, (region, members) in team_members(ledger, end).items():
        parts = {r: (h.score if (h := reps.get(r)) else None) for r in members}
        teams[team] = Rollup(team, region, team_score(members, reps), parts)
    regions: dict[str, dict[str, float | None]] = defaultdict(dict)
    for rollup in teams.values():
        regions[rollup.region][rollup.scope_id] = rollup.score
    return teams, {
        region: Rollup(
            region, region, mean_2dp([s for s in parts.values() if s is not None]), parts
        )
        for region, parts in regions.items()
    }
