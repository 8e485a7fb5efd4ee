"""What each event becomes on the timeline (kind, acting region, actor), and opaque cursors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.collab_svc.application.timeline import KINDS, entry_for
from services.collab_svc.entrypoints.api.conflicts import month_range
from shared.contracts import collab as cv
from shared.contracts import pipeline as pv
from shared.errors import ValidationFailedError
from shared.events.base import DomainEvent
from shared.events.envelope import Envelope, Metadata
from shared.store.cursors import decode_at, decode_seq, encode_at, encode_seq

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPP = {"opportunity_id": "opp-1", "account_id": "acme", "occurred_at": T0}
REQ = {
    "request_id": "r1",
    "account_id": "acme",
    "owning_region": "east",
    "requester_id": "rep-s",
    "requester_region": "south",
    "occurred_at": T0,
}


def wrap(event: DomainEvent) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(),
        stream_id="s",
        stream_type="t",
        version=1,
        event=event,
        recorded_at=T0,
        key="acme",
        metadata=Metadata(actor="meta-actor", region="meta-region"),
    )


@pytest.mark.parametrize(
    ("event", "kind", "region", "actor"),
    [
        (
            pv.ActivityLogged(
                **OPP,
                activity_id="a1",
                kind="visit",
                customer_facing=True,
                stage="lead",
                actor_id="rep-s",
                actor_region="south",
            ),
            "activity",
            "south",
            "rep-s",
        ),
        (
            pv.StageAdvanced(
                **OPP, from_stage="lead", to_stage="q", playbook_version=1, days_in_previous_stage=1
            ),
            "stage_advanced",
            "meta-region",
            "meta-actor",
        ),
        (
            pv.OpportunityLost(**OPP, stage="q", reason="price", actor_id="rep-e"),
            "opportunity_lost",
            "meta-region",
            "rep-e",
        ),
        (
            cv.ContactApproved(
                **REQ, approved_by="sup-e", valid_from=T0, valid_until=T0.replace(hour=10)
            ),
            "contact_approved",
            "east",
            "sup-e",
        ),
        (
            cv.ContactGrantExpired(**REQ, expired_at=T0),
            "contact_grant_expired",
            "south",
            "meta-actor",
        ),
    ],
)
def test_each_event_names_its_kind_and_who_acted(
    event: DomainEvent, kind: str, region: str, actor: str
) -> None:
    entry = entry_for(wrap(event))

    assert entry is not None
    assert (entry.kind, entry.region, entry.actor, entry.account_id) == (
        kind,
        region,
        actor,
        "acme",
    )
    assert entry.data == event.payload()


def test_events_without_a_timeline_kind_make_no_entry() -> None:
    event = pv.StakeholderMapped(
        **OPP, stakeholder_id="s1", name="Dr. Chen", role="decision_maker", mapped_by="rep-e"
    )

    assert "StakeholderMapped" not in KINDS
    assert entry_for(wrap(event)) is None


def test_cursors_round_trip_and_refuse_tampering() -> None:
    assert decode_seq(encode_seq(42)) == 42
    assert decode_at(encode_at(T0, 7)) == (T0, 7)
    for bad in ("%%%", encode_seq(1) + "x", "eyJzIjogdHJ1ZX0", "bnVsbA"):
        with pytest.raises(ValidationFailedError):
            decode_at(bad)


def test_a_month_is_its_first_instant_to_the_next_months_in_utc() -> None:
    assert month_range("2026-12") == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
