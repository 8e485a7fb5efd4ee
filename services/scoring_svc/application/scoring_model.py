"""The scoring model's stream: read the model in force, change it (admins)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.scoring_svc.application.uow import ScoringUnitOfWork
from services.scoring_svc.domain.model import ScoringModel
from shared.context import Context
from shared.contracts.scoring import ScoringModelChanged
from shared.errors import ForbiddenError, PreconditionFailedError, ValidationFailedError
from shared.events.envelope import NewEvent

STREAM = ("scoring-model", "scoring_model")
FIELDS = (
    "weights",
    "revisit_target",
    "completeness_target",
    "roles_target",
    "requirement_kinds",
    "completeness_from_stage",
    "competitive_from_stage",
    "stage_probabilities",
)


def from_event(e: ScoringModelChanged, version: int) -> ScoringModel:
    return ScoringModel(**{f: getattr(e, f) for f in FIELDS}, version=version)


def view(model: ScoringModel) -> dict[str, Any]:
    data = {f: getattr(model, f) for f in FIELDS}
    return {
        **{k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()},
        "version": model.version,
    }


async def current(uow: ScoringUnitOfWork) -> ScoringModel:
    envelopes = await uow.events.load(STREAM[0])
    if not envelopes:
        return ScoringModel()
    last = envelopes[-1]
    assert isinstance(last.event, ScoringModelChanged)
    return from_event(last.event, last.version)


async def change(uow: ScoringUnitOfWork, ctx: Context, fields: dict[str, Any]) -> ScoringModel:
    if not ctx.actor.is_admin:
        raise ForbiddenError("only admins change the scoring model")
    now = await current(uow)
    if ctx.expected_version is not None and ctx.expected_version != now.version:
        raise PreconditionFailedError(
            f"If-Match expects version {ctx.expected_version}; the model is at {now.version}",
            current_version=now.version,
        )
    candidate = ScoringModel(**fields, version=now.version + 1)
    try:
        candidate.validate()
    except ValueError as exc:
        raise ValidationFailedError(str(exc), field=getattr(exc, "field", None)) from None
    event = ScoringModelChanged(occurred_at=ctx.now, actor_id=ctx.actor.sub, **fields)
    await uow.events.append(*STREAM, now.version, [NewEvent(event)], ctx.metadata)
    return candidate
