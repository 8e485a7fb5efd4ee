"""Pipeline events as the pipeline's relay publishes them, for feeding collab's consumers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.contracts import pipeline as pv
from shared.events.envelope import Envelope
from tests.integration.collab.conftest import envelope


class Deal:
    """One opportunity's stream: each call returns the next envelope of it."""

    def __init__(self, account_id: str, region: str = "east", owner: str = "rep-east") -> None:
        self.opportunity_id = f"opp-{uuid.uuid4().hex[:8]}"
        self.account_id = account_id
        self.region = region
        self.owner = owner
        self.version = 0

    def _next(self, event: pv.PipelineEvent, actor: str, region: str) -> Envelope:
        self.version += 1
        return envelope(
            event, f"opportunity-{self.opportunity_id}", self.version, actor=actor, region=region
        )

    def _ids(self) -> dict[str, str]:
        return {"opportunity_id": self.opportunity_id, "account_id": self.account_id}

    def opened(self, at: datetime) -> Envelope:
        event = pv.OpportunityOpened(
            **self._ids(),
            occurred_at=at,
            title="3 CNC lines",
            owner_id=self.owner,
            region=self.region,
            team=f"{self.region}-1",
            amount=Decimal(1_200_000),
            currency="CNY",
            expected_close_date=date(2027, 3, 31),
            stage="lead",
            playbook_version=1,
        )
        return self._next(event, self.owner, self.region)

    def activity(
        self,
        at: datetime,
        actor: str | None = None,
        region: str | None = None,
        *,
        kind: str = "call",
        customer_facing: bool = True,
        activity_id: str | None = None,
        **fields: Any,
    ) -> Envelope:
        actor, region = actor or self.owner, region or self.region
        event = pv.ActivityLogged(
            **self._ids(),
            occurred_at=at,
            activity_id=activity_id or f"act-{uuid.uuid4().hex[:8]}",
            kind=kind,
            customer_facing=customer_facing,
            stage="lead",
            actor_id=actor,
            actor_region=region,
            **fields,
        )
        return self._next(event, actor, region)

    def artifact(self, at: datetime) -> Envelope:
        event = pv.ArtifactSubmitted(
            **self._ids(),
            occurred_at=at,
            artifact_id=f"art-{uuid.uuid4().hex[:8]}",
            artifact_kind="needs_interview_notes",
            fields={"key_needs": ["uptime"]},
            fill_rate=0.6,
            stage="lead",
            submitted_by=self.owner,
        )
        return self._next(event, self.owner, self.region)

    def advanced(self, at: datetime, to: str = "qualified") -> Envelope:
        event = pv.StageAdvanced(
            **self._ids(),
            occurred_at=at,
            from_stage="lead",
            to_stage=to,
            playbook_version=1,
            days_in_previous_stage=3.0,
        )
        return self._next(event, self.owner, self.region)

    def blocked(self, at: datetime) -> Envelope:
        event = pv.StageAdvanceBlocked(
            **self._ids(),
            occurred_at=at,
            from_stage="qualified",
            to_stage="needs_confirmed",
            playbook_version=1,
            missing=[],
            actor_id=self.owner,
        )
        return self._next(event, self.owner, self.region)

    def won(self, at: datetime) -> Envelope:
        event = pv.OpportunityWon(
            **self._ids(),
            occurred_at=at,
            amount=Decimal(1_150_000),
            stage="contract",
            reason="pilot convinced the COO",
            actor_id=self.owner,
        )
        return self._next(event, self.owner, self.region)
