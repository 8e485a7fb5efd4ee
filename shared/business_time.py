"""Business time of a command: who may date it (`occurred_at`), how far back, and its order.

Standard library and the error hierarchy only, so domain code may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from shared.errors import ValidationFailedError
from shared.events.base import DomainEvent
from shared.identity import DATING_ROLES, Principal

#: every date and time the API accepts lies in [EARLIEST, LATEST)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
#: members who may date their own activities (a call logged after the fact)
BACKDATING_ROLES = ("rep", "supervisor", "regional_manager")
FIELD = "occurred_at"
E = TypeVar("E", bound=DomainEvent)


def _refuse(detail: str) -> ValidationFailedError:
    return ValidationFailedError(detail, field=FIELD)


@dataclass(frozen=True)
class BusinessTimePolicy:
    """Admins and importers date any command; members backdate activities within a window."""

    backdate_window: timedelta = timedelta(days=30)
    future_skew: timedelta = timedelta(minutes=5)

    def resolve(
        self, actor: Principal, given: datetime | None, now: datetime, *, activity: bool = False
    ) -> datetime:
        """The business time of a command: `given` when this actor may give it, else refused."""
        if given is None:
            return now
        if given.tzinfo is None or given.utcoffset() is None:
            raise _refuse("occurred_at needs a time zone")
        if not EARLIEST <= given < LATEST:
            raise _refuse("occurred_at must lie between 1990-01-01 and 2100-01-01")
        if given > now + self.future_skew:
            raise _refuse("occurred_at lies in the future")
        if actor.role in DATING_ROLES or abs(now - given) <= self.future_skew:
            return given
        if not activity or actor.role not in BACKDATING_ROLES:
            raise _refuse(
                f"a {actor.role} may not date this command; only admins and importers give "
                "occurred_at here"
            )
        if now - given > self.backdate_window:
            days = self.backdate_window.total_seconds() / 86400
            raise _refuse(f"a {actor.role} may backdate an activity by {days:g} days at most")
        return given


def in_order(at: datetime, latest: datetime | None, *, given: bool) -> datetime:
    """A stream's business time never goes backwards.

    A time the caller gave that is earlier than the stream's latest event is refused; the
    clock's own now, when an event was dated slightly ahead of it (clock skew), moves up to it.
    """
    if latest is None or at >= latest:
        return at
    if not given:
        return latest
    raise _refuse(
        f"occurred_at {at.isoformat()} is before the latest event of this stream "
        f"({latest.isoformat()}): its business time never goes backwards"
    )


def keep_order(events: list[E], latest: datetime | None, *, dated: bool) -> list[E]:
    """The events of one command, checked (and, for the clock's own now, moved) into order."""
    out = []
    for e in events:
        at = in_order(e.occurred_at, latest, given=dated)
        out.append(e if at == e.occurred_at else e.model_copy(update={"occurred_at": at}))
        latest = at
    return out
