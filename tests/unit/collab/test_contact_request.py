"""The contact request aggregate: window rules and the request → approve/reject → expire machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.collab_svc.domain import commands as c
from services.collab_svc.domain.contact_request import (
    MAX_WINDOW,
    ContactRequest,
    check_window,
    request_contact,
)
from services.collab_svc.domain.errors import (
    AlreadyDecidedError,
    InvalidWindowError,
    WindowClosedError,
)
from shared.contracts import collab as ev
from shared.events.base import DomainEvent
from shared.identity import Principal

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SOUTH_REP = Principal(sub="rep-s", role="rep", region="south", team="south-a")
EAST_SUP = Principal(sub="sup-e", role="supervisor", region="east", team="east-a")


def requested(start: datetime = T0, hours: float = 48, now: datetime = T0) -> ContactRequest:
    cmd = c.RequestContact("req-1", "acme", "joint demo", start, start + timedelta(hours=hours))
    return ContactRequest.fold("req-1", [request_contact(cmd, "east", SOUTH_REP, now)])


def then(req: ContactRequest, events: list[DomainEvent]) -> ContactRequest:
    for e in events:
        req.apply(e)
    return req


class TestWindow:
    @pytest.mark.parametrize(
        ("start", "end", "message"),
        [
            (T0, T0, "after window_start"),
            (T0, T0 - timedelta(minutes=1), "after window_start"),
            (T0, T0 + MAX_WINDOW + timedelta(seconds=1), "at most 90 days"),
            (T0 - timedelta(days=3), T0 - timedelta(days=1), "in the past"),
            (T0 - timedelta(days=1), T0, "in the past"),
            (T0.replace(tzinfo=None), T0 + timedelta(days=1), "time zone"),
        ],
    )
    def test_a_bad_window_is_refused(self, start: datetime, end: datetime, message: str) -> None:
        with pytest.raises(InvalidWindowError, match=message):
            check_window(start, end, T0)

    def test_a_window_of_exactly_ninety_days_that_began_already_is_fine(self) -> None:
        check_window(T0 - timedelta(days=1), T0 - timedelta(days=1) + MAX_WINDOW, T0)


class TestRequest:
    def test_the_request_records_who_asks_and_the_owning_region(self) -> None:
        req = requested()

        assert (req.status, req.version, req.owning_region) == ("pending", 1, "east")
        assert (req.requester_id, req.requester_region, req.requester_team) == (
            "rep-s",
            "south",
            "south-a",
        )


class TestApprove:
    def test_a_grant_runs_from_the_window_start_to_its_end_by_default(self) -> None:
        req = requested(start=T0 + timedelta(hours=5))

        [e] = req.approve(c.ApproveContact("req-1"), "east", EAST_SUP, T0)

        assert isinstance(e, ev.ContactApproved)
        assert (e.valid_from, e.valid_until) == (T0 + timedelta(hours=5), T0 + timedelta(hours=53))
        assert (e.approved_by, e.owning_region, e.requester_id) == ("sup-e", "east", "rep-s")

    def test_a_grant_approved_mid_window_starts_now(self) -> None:
        req = requested(start=T0)
        now = T0 + timedelta(hours=3)

        [e] = req.approve(c.ApproveContact("req-1"), "east", EAST_SUP, now)

        assert isinstance(e, ev.ContactApproved)
        assert e.valid_from == now

    def test_the_approver_may_shorten_but_not_lengthen_the_grant(self) -> None:
        req = requested()
        short = T0 + timedelta(hours=2)

        [e] = req.approve(c.ApproveContact("req-1", short), "east", EAST_SUP, T0)

        assert isinstance(e, ev.ContactApproved) and e.valid_until == short
        with pytest.raises(InvalidWindowError, match="past the requested window"):
            req.approve(c.ApproveContact("req-1", T0 + timedelta(hours=49)), "east", EAST_SUP, T0)
        with pytest.raises(InvalidWindowError, match="must lie after"):
            req.approve(c.ApproveContact("req-1", T0), "east", EAST_SUP, T0)

    def test_a_window_that_ended_cannot_be_approved(self) -> None:
        req = requested(hours=1)

        with pytest.raises(WindowClosedError):
            req.approve(c.ApproveContact("req-1"), "east", EAST_SUP, T0 + timedelta(hours=1))

    @pytest.mark.parametrize("first", ["approve", "reject"])
    def test_a_decided_request_cannot_be_decided_again(self, first: str) -> None:
        req = requested()
        if first == "approve":
            then(req, req.approve(c.ApproveContact("req-1"), "east", EAST_SUP, T0))
        else:
            then(req, req.reject(c.RejectContact("req-1", "busy"), "east", EAST_SUP, T0))

        with pytest.raises(AlreadyDecidedError):
            req.approve(c.ApproveContact("req-1"), "east", EAST_SUP, T0)
        with pytest.raises(AlreadyDecidedError):
            req.reject(c.RejectContact("req-1", "again"), "east", EAST_SUP, T0)

    def test_a_rejection_keeps_its_reason(self) -> None:
        req = requested()

        then(req, req.reject(c.RejectContact("req-1", "East visits Friday"), "east", EAST_SUP, T0))

        assert (req.status, req.reason, req.decided_by) == (
            "rejected",
            "East visits Friday",
            "sup-e",
        )


class TestExpire:
    def approved(self, until: datetime) -> ContactRequest:
        req = requested()
        return then(req, req.approve(c.ApproveContact("req-1", until), "east", EAST_SUP, T0))

    def test_nothing_expires_before_its_time(self) -> None:
        req = self.approved(T0 + timedelta(hours=2))

        assert req.expire(T0 + timedelta(hours=1, minutes=59)) == []

    def test_a_grant_expires_at_valid_until_in_business_time_once(self) -> None:
        until = T0 + timedelta(hours=2)
        req = self.approved(until)

        events = req.expire(T0 + timedelta(days=3))  # the scheduler ran late

        [e] = events
        assert isinstance(e, ev.ContactGrantExpired)
        assert e.occurred_at == e.expired_at == until
        then(req, events)
        assert req.status == "expired"
        assert req.expire(T0 + timedelta(days=4)) == []

    @pytest.mark.parametrize("status", ["pending", "rejected"])
    def test_only_grants_expire(self, status: str) -> None:
        req = requested()
        if status == "rejected":
            then(req, req.reject(c.RejectContact("req-1", "no"), "east", EAST_SUP, T0))

        assert req.expire(T0 + timedelta(days=10)) == []
