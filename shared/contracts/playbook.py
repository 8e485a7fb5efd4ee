"""The playbook (销售作战地图) as data: stages, action packages, artifact kinds.

Part of the event contract because `PlaybookPublished` carries a whole definition.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


class Label(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    en: str = Field(min_length=1, max_length=200)
    zh: str = Field(min_length=1, max_length=200)


class FieldSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Key
    type: Literal["text", "number", "date", "boolean", "list"] = "text"
    required: bool = True
    label: Label


class ArtifactKind(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    key: Key
    label: Label
    fields: list[FieldSpec] = Field(min_length=1)
    #: a requirement document: its fill rate counts towards requirement completeness
    requirement_document: bool = False

    @model_validator(mode="after")
    def _unique_fields(self) -> ArtifactKind:
        names = [f.name for f in self.fields]
        if len(names) != len(set(names)):
            raise ValueError(f"artifact kind {self.key} repeats a field name")
        return self


class ActivityKind(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    key: Key
    label: Label
    customer_facing: bool = True


class StakeholderRole(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    key: Key
    label: Label


class ArtifactRequirement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["artifact"] = "artifact"
    artifact: Key
    min_fill_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class ActivityRequirement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["activity"] = "activity"
    activity_kinds: list[Key] = Field(min_length=1)
    require_next_step: bool = False
    #: only activities logged while the deal sat in the stage being left count
    in_stage: bool = True


class StakeholderRolesRequirement(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    type: Literal["stakeholder_roles"] = "stakeholder_roles"
    min_roles: int = Field(ge=1, le=50)


Requirement = Annotated[
    ArtifactRequirement | ActivityRequirement | StakeholderRolesRequirement,
    Field(discriminator="type"),
]


class Stage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    key: Key
    label: Label
    #: the action package: what must exist before a deal may leave this stage
    exit: list[Requirement] = Field(default_factory=list)
    #: what must exist before a deal may enter this stage
    entry: list[Requirement] = Field(default_factory=list)


class PlaybookDefinition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    stages: list[Stage] = Field(min_length=2, max_length=30)
    artifact_kinds: list[ArtifactKind] = Field(min_length=1)
    activity_kinds: list[ActivityKind] = Field(min_length=1)
    stakeholder_roles: list[StakeholderRole] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> PlaybookDefinition:
        stage_keys = [s.key for s in self.stages]
        if len(stage_keys) != len(set(stage_keys)):
            raise ValueError("stage keys must be unique")
        if stage_keys[0] != "lead":
            raise ValueError("the first stage must be 'lead'")
        if {"won", "lost"} & set(stage_keys):
            raise ValueError("'won' and 'lost' are terminal outcomes, not stages")
        for kinds, what in (
            ([a.key for a in self.artifact_kinds], "artifact kind"),
            ([a.key for a in self.activity_kinds], "activity kind"),
            ([r.key for r in self.stakeholder_roles], "stakeholder role"),
        ):
            if len(kinds) != len(set(kinds)):
                raise ValueError(f"{what} keys must be unique")
        artifacts = {a.key for a in self.artifact_kinds}
        activities = {a.key for a in self.activity_kinds}
        roles = len(self.stakeholder_roles)
        for stage in self.stages:
            for req in (*stage.exit, *stage.entry):
                if isinstance(req, ArtifactRequirement) and req.artifact not in artifacts:
                    raise ValueError(f"stage {stage.key}: unknown artifact kind {req.artifact}")
                if isinstance(req, ActivityRequirement):
                    unknown = set(req.activity_kinds) - activities
                    if unknown:
                        raise ValueError(f"stage {stage.key}: unknown activity kinds {unknown}")
                if isinstance(req, StakeholderRolesRequirement) and req.min_roles > roles:
                    raise ValueError(f"stage {stage.key}: needs more roles than the playbook has")
        return self

    def stage(self, key: str) -> Stage:
        for s in self.stages:
            if s.key == key:
                return s
        raise KeyError(key)

    def next_stage(self, key: str) -> Stage | None:
        keys = [s.key for s in self.stages]
        i = keys.index(key)
        return self.stages[i + 1] if i + 1 < len(keys) else None

    def artifact_kind(self, key: str) -> ArtifactKind | None:
        return next((a for a in self.artifact_kinds if a.key == key), None)

    def activity_kind(self, key: str) -> ActivityKind | None:
        return next((a for a in self.activity_kinds if a.key == key), None)

    def role(self, key: str) -> StakeholderRole | None:
        return next((r for r in self.stakeholder_roles if r.key == key), None)
