"""Who reads whose scores, and labels of periods that do not exist."""

from __future__ import annotations

import pytest

from services.scoring_svc.domain import calendar, permissions
from shared.errors import ForbiddenError
from shared.identity import Principal
from tests.unit.scoring.builders import TZ

REP = Principal("rep-a", "rep", "east", "east-1")
SUP = Principal("sup-1", "supervisor", "east", "east-1")
RM = Principal("rm-e", "regional_manager", "east", "east-2")
ADMIN = Principal("admin", "admin", "hq", "hq")


def test_a_rep_reads_their_own_score_only() -> None:
    permissions.require_read_rep(REP, "rep-a", "east-1", "east")
    with pytest.raises(ForbiddenError):
        permissions.require_read_rep(REP, "rep-b", "east-1", "east")
    with pytest.raises(ForbiddenError):
        permissions.require_read_team(REP, "east-1", "east")


def test_a_supervisor_reads_their_team_and_a_manager_their_region() -> None:
    permissions.require_read_rep(SUP, "rep-b", "east-1", "east")
    permissions.require_read_team(SUP, "east-1", "east")
    with pytest.raises(ForbiddenError):
        permissions.require_read_rep(SUP, "rep-x", "east-2", "east")
    with pytest.raises(ForbiddenError):
        permissions.require_read_region(SUP, "east")
    permissions.require_read_rep(RM, "rep-x", "east-9", "east")
    permissions.require_read_team(RM, "east-1", "east")
    permissions.require_read_region(RM, "east")
    with pytest.raises(ForbiddenError):
        permissions.require_read_region(RM, "south")
    with pytest.raises(ForbiddenError):
        permissions.require_read_rep(RM, "rep-s", None, None)
    permissions.require_read_region(ADMIN, "south")


@pytest.mark.parametrize("label", ["2026-W00", "2026-W54", "2021-W53", "1900-W01", "9999-W52"])
def test_weeks_that_do_not_exist_are_refused(label: str) -> None:
    with pytest.raises(calendar.PeriodError):
        calendar.week(label, TZ)


def test_2020_has_a_53rd_week_and_quarters_run_on_calendar_months() -> None:
    assert calendar.week("2020-W53", TZ).start.date().isoformat() == "2020-12-28"
    q4 = calendar.quarter("2026-Q4", TZ)
    assert (q4.start.date().isoformat(), q4.end.date().isoformat()) == ("2026-10-01", "2027-01-01")
    with pytest.raises(calendar.PeriodError):
        calendar.quarter("9999-Q4", TZ)
    assert [q.label for q in calendar.quarters("2026-Q3", "2027-Q2", TZ)] == [
        "2026-Q3",
        "2026-Q4",
        "2027-Q1",
        "2027-Q2",
    ]
