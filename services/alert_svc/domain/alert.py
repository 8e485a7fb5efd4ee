"""The alert aggregate (预警): raised, acknowledged, resolved — a fold of its events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.alert_svc.domain.errors import AlertClosedError
from shared.contracts import alert as av
from shared.events.base import DomainEvent

STREAM_TYPE = "alert"


def stream_id(alert_id: str) -> str:
    return f"alert-{alert_id}"


@dataclass
class Alert:
    alert_id: str
    version: int = 0
    raised: av.AlertRaised | None = None
    status: str = "new"
    history: list[DomainEvent] = field(default_factory=list)

    @classmethod
    def fold(cls, alert_id: str, events: list[DomainEvent]) -> Alert:
        alert = cls(alert_id)
        for e in events:
            alert.apply(e)
        return alert

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        self.history.append(event)
        if isinstance(event, av.AlertRaised):
            self.raised, self.status = event, "raised"
        elif isinstance(event, av.AlertAcknowledged):
            self.status = "acknowledged"
        elif isinstance(event, av.AlertResolved):
            self.status = "resolved"

    @property
    def exists(self) -> bool:
        return self.raised is not None

    @property
    def open(self) -> bool:
        return self.status in ("raised", "acknowledged")

    def _subject(self) -> dict[str, str]:
        assert self.raised is not None
        r = self.raised
        return {
            "alert_id": self.alert_id,
            "opportunity_id": r.opportunity_id,
            "account_id": r.account_id,
            "region": r.region,
        }

    def acknowledge(self, by: str, comment: str, at: datetime) -> list[DomainEvent]:
        if not self.open:
            raise AlertClosedError(f"alert {self.alert_id} is resolved already")
        if self.status == "acknowledged":
            return []  # acknowledging twice changes nothing
        return [av.AlertAcknowledged(**self._subject(), occurred_at=at, by=by, comment=comment)]

    def resolve(
        self, reason: str, at: datetime, by: str | None = None, comment: str = ""
    ) -> list[DomainEvent]:
        if not self.open:
            raise AlertClosedError(f"alert {self.alert_id} is resolved already")
        return [
            av.AlertResolved(
                **self._subject(), occurred_at=at, reason=reason, comment=comment, by=by
            )
        ]
