"""The contact request aggregate (协作申请): pending → approved (a time-boxed grant) → expired, or rejected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.collab_svc.domain import commands as c
from services.collab_svc.domain.errors import (
    AlreadyDecidedError,
    InvalidWindowError,
    WindowClosedError,
)
from shared.contracts import collab as ev
from shared.events.base import DomainEvent
from shared.identity import Principal

STREAM_TYPE = "contact-request"
#: a grant is a short, planned collaboration, not standing access to another region's account
MAX_WINDOW = timedelta(days=90)
Status = Literal["none", "pending", "approved", "rejected", "expired"]


@dataclass
class ContactRequest:
    request_id: str
    account_id: str = ""
    owning_region: str = ""
    requester_id: str = ""
    requester_region: str = ""
    requester_team: str = ""
    purpose: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    status: Status = "none"
    requested_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    expired_at: datetime | None = None
    version: int = 0

    @classmethod
    def fold(cls, request_id: str, events: list[DomainEvent]) -> ContactRequest:
        request = cls(request_id)
        for e in events:
            request.apply(e)
        return request

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, e: DomainEvent) -> None:
        self.version += 1
        if isinstance(e, ev.ContactRequested):
            self.account_id, self.owning_region = e.account_id, e.owning_region
            self.requester_id, self.requester_region = e.requester_id, e.requester_region
            self.requester_team, self.purpose = e.requester_team, e.purpose
            self.window_start, self.window_end = e.window_start, e.window_end
            self.status, self.requested_at = "pending", e.occurred_at
        elif isinstance(e, ev.ContactApproved):
            self.status, self.decided_by, self.decided_at = "approved", e.approved_by, e.occurred_at
            self.owning_region = e.owning_region
            self.valid_from, self.valid_until = e.valid_from, e.valid_until
        elif isinstance(e, ev.ContactRejected):
            self.status, self.decided_by, self.decided_at = "rejected", e.rejected_by, e.occurred_at
            self.owning_region, self.reason = e.owning_region, e.reason
        elif isinstance(e, ev.ContactGrantExpired):
            self.status, self.expired_at = "expired", e.expired_at

    def _base(self) -> dict[str, str]:
        return {
            "request_id": self.request_id,
            "account_id": self.account_id,
            "requester_id": self.requester_id,
            "requester_region": self.requester_region,
        }

    def _require_pending(self) -> None:
        if self.status != "pending":
            raise AlreadyDecidedError(
                f"contact request {self.request_id} is {self.status}", status_now=self.status
            )

    def approve(
        self, cmd: c.ApproveContact, owning_region: str, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        """A grant from max(now, window start) until `valid_until` (default: the window's end)."""
        self._require_pending()
        assert self.window_start is not None and self.window_end is not None
        if self.window_end <= now:
            raise WindowClosedError(
                f"the requested window ended at {self.window_end.isoformat()}; ask for a new one"
            )
        valid_from = max(now, self.window_start)
        valid_until = cmd.valid_until or self.window_end
        if valid_until.tzinfo is None:
            raise InvalidWindowError("valid_until needs a time zone", field="valid_until")
        if valid_until > self.window_end:
            raise InvalidWindowError(
                "valid_until may not reach past the requested window's end", field="valid_until"
            )
        if valid_until <= valid_from:
            raise InvalidWindowError(
                f"valid_until must lie after {valid_from.isoformat()}", field="valid_until"
            )
        return [
            ev.ContactApproved(
                **self._base(),
                occurred_at=now,
                owning_region=owning_region,
                approved_by=actor.sub,
                valid_from=valid_from,
                valid_until=valid_until,
            )
        ]

    def reject(
        self, cmd: c.RejectContact, owning_region: str, actor: Principal, now: datetime
    ) -> list[DomainEvent]:
        self._require_pending()
        return [
            ev.ContactRejected(
                **self._base(),
                occurred_at=now,
                owning_region=owning_region,
                rejected_by=actor.sub,
                reason=cmd.reason,
            )
        ]

    def expire(self, now: datetime) -> list[DomainEvent]:
        """ContactGrantExpired once the grant's time is up; nothing before, nothing twice."""
        if self.status != "approved" or self.valid_until is None or self.valid_until > now:
            return []
        return [
            ev.ContactGrantExpired(
                **self._base(),
                # business time: the grant ended at valid_until, however late the scheduler runs
                occurred_at=self.valid_until,
                owning_region=self.owning_region,
                expired_at=self.valid_until,
            )
        ]


def request_contact(
    cmd: c.RequestContact, owning_region: str, actor: Principal, now: datetime
) -> DomainEvent:
    """The requester's permission is checked by the caller; here: the window itself."""
    check_window(cmd.window_start, cmd.window_end, now)
    return ev.ContactRequested(
        occurred_at=now,
        request_id=cmd.request_id,
        account_id=cmd.account_id,
        owning_region=owning_region,
        requester_id=actor.sub,
        requester_region=actor.region,
        requester_team=actor.team,
        purpose=cmd.purpose,
        window_start=cmd.window_start,
        window_end=cmd.window_end,
    )


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    for name, value in (("window_start", start), ("window_end", end)):
        if value.tzinfo is None:
            raise InvalidWindowError(f"{name} needs a time zone", field=name)
    if end <= start:
        raise InvalidWindowError("window_end must lie after window_start", field="window_end")
    if end - start > MAX_WINDOW:
        raise InvalidWindowError(
            f"a contact window spans at most {MAX_WINDOW.days} days", field="window_end"
        )
    if end <= now:
        raise InvalidWindowError("the window ends in the past", field="window_end")
