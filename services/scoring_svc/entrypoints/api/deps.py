"""Dependencies of the scoring routes: the application service and the query parameters they share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Query, Request

from services.scoring_svc.domain import calendar
from shared.errors import ValidationFailedError

if TYPE_CHECKING:
    from services.scoring_svc.bootstrap import ScoringService


async def service(request: Request) -> ScoringService:
    return request.app.state.scoring  # type: ignore[no-any-return]


Scoring = Annotated["ScoringService", Depends(service)]
PathId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")]
OptionalId = Annotated[
    str | None, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@-]+$")
]
WeekParam = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-W\d{2}$",
        description="ISO week in the organisation's time zone; default: the current week",
        examples=["2026-W47"],
    ),
]
QuarterParam = Annotated[str, Query(pattern=r"^\d{4}-Q[1-4]$", examples=["2027-Q1"])]


def checked_week(svc: ScoringService, week: str | None, field: str = "week") -> str:
    """The given ISO week (422 if it does not exist) or the clock's current one."""
    if week is None:
        return calendar.week_of(svc.clock.now(), svc.tz).label
    try:
        return calendar.week(week, svc.tz).label
    except calendar.PeriodError as exc:
        raise ValidationFailedError(str(exc), field=field) from None


def checked_quarter(svc: ScoringService, label: str, field: str) -> calendar.Period:
    try:
        return calendar.quarter(label, svc.tz)
    except calendar.PeriodError as exc:
        raise ValidationFailedError(str(exc), field=field) from None
