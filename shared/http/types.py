"""Input types every API shares: dates and times within the business range."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

from shared.business_time import EARLIEST, LATEST

_RANGE = f"between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}"


def _datetime_in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must lie {_RANGE}")
    return value


def _date_in_range(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        raise ValueError(f"must lie {_RANGE}")
    return value


#: an instant with a time zone, in [1990-01-01, 2100-01-01): PostgreSQL stores and reads it back
BusinessDateTime = Annotated[
    AwareDatetime,
    AfterValidator(_datetime_in_range),
    Field(description=f"ISO 8601 with a time zone, {_RANGE}"),
]
#: a calendar date in [1990-01-01, 2100-01-01)
BusinessDate = Annotated[
    date, AfterValidator(_date_in_range), Field(description=f"ISO 8601 date, {_RANGE}")
]
