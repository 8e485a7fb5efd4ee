"""The playbook in force and its gates: what must exist before a deal leaves or enters a stage."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import yaml

from shared.contracts.pipeline import MissingItem
from shared.contracts.playbook import (
    ActivityRequirement,
    ArtifactRequirement,
    PlaybookDefinition,
    StakeholderRolesRequirement,
)

if TYPE_CHECKING:
    from services.pipeline_svc.domain.opportunity import Opportunity

TERMINAL = ("won", "lost")


def default_playbook() -> PlaybookDefinition:
    text = resources.files(__package__).joinpath("default_playbook.yaml").read_text("utf-8")
    return PlaybookDefinition.model_validate(yaml.safe_load(text))


def _label(playbook: PlaybookDefinition, key: str, kind: str) -> tuple[str, str]:
    if kind == "artifact":
        a = playbook.artifact_kind(key)
        return (a.label.en, a.label.zh) if a else (key, key)
    act = playbook.activity_kind(key)
    return (act.label.en, act.label.zh) if act else (key, key)


def _check(
    req: ArtifactRequirement | ActivityRequirement | StakeholderRolesRequirement,
    opp: Opportunity,
    playbook: PlaybookDefinition,
    stage: str,
    gate: str,
) -> MissingItem | None:
    if isinstance(req, ArtifactRequirement):
        best = opp.best_fill_rate(req.artifact)
        if best is not None and best >= req.min_fill_rate:
            return None
        en, zh = _label(playbook, req.artifact, "artifact")
        rate = f" with fill rate ≥ {req.min_fill_rate:.0%}" if req.min_fill_rate else ""
        return MissingItem(
            code=f"artifact:{req.artifact}",
            requirement="artifact",
            stage=stage,
            gate=gate,
            detail=f"{en}{rate} must be submitted",
            detail_zh=f"需提交{zh}",
        )
    if isinstance(req, ActivityRequirement):
        for act in opp.activities:
            if act.kind not in req.activity_kinds:
                continue
            if not act.by_owning_region:
                continue  # another region's contact (under a grant) does not move the deal
            if req.in_stage and act.stage != stage:
                continue
            if req.require_next_step and not (act.next_step or "").strip():
                continue
            return None
        labels = [_label(playbook, k, "activity") for k in req.activity_kinds]
        en = " or ".join(lbl[0] for lbl in labels)
        zh = "或".join(lbl[1] for lbl in labels)
        where = " in this stage" if req.in_stage else ""
        step = " with a concrete next step" if req.require_next_step else ""
        return MissingItem(
            code=f"activity:{'|'.join(req.activity_kinds)}",
            requirement="activity",
            stage=stage,
            gate=gate,
            detail=f"a {en} activity{step} must be logged{where}",
            detail_zh=f"需记录{zh}活动" + ("并明确下一步" if req.require_next_step else ""),
        )
    covered = len(opp.stakeholder_roles())
    if covered >= req.min_roles:
        return None
    return MissingItem(
        code=f"stakeholder_roles:{req.min_roles}",
        requirement="stakeholder_roles",
        stage=stage,
        gate=gate,
        detail=f"stakeholders of at least {req.min_roles} roles must be mapped ({covered} so far)",
        detail_zh=f"需覆盖至少{req.min_roles}类关键人角色(当前{covered}类)",
    )


def missing_for(
    opp: Opportunity, playbook: PlaybookDefinition, from_stage: str, to_stage: str
) -> list[MissingItem]:
    """Every unmet requirement to move from `from_stage` to `to_stage`, exit gate first."""
    out: list[MissingItem] = []
    for req in playbook.stage(from_stage).exit:
        item = _check(req, opp, playbook, from_stage, "exit")
        if item:
            out.append(item)
    if to_stage not in TERMINAL:
        for req in playbook.stage(to_stage).entry:
            item = _check(req, opp, playbook, to_stage, "entry")
            if item:
                out.append(item)
    return out


def next_stage_key(playbook: PlaybookDefinition, stage: str) -> str:
    """The stage after `stage`; after the last stage comes `won`."""
    nxt = playbook.next_stage(stage)
    return nxt.key if nxt else "won"
