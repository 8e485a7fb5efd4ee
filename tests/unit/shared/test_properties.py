"""Properties of the CloudEvents codec and the playbook parser, over generated inputs."""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.pipeline_svc.domain.playbook import default_playbook
from shared.contracts import pipeline as ev
from shared.contracts.playbook import PlaybookDefinition
from shared.events import Envelope, Metadata, UnknownEventError
from shared.events import registry as global_registry
from shared.events.cloudevents import MalformedCloudEventError, decode, encode, parse_type

SOURCE = "/sightline/pipeline"
#: what a stored event can hold: any character but NUL and unpaired surrogates
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
ids = st.text("AZaz09._:@-", min_size=1, max_size=30)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)
PROPERTY = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def activity_envelopes(draw: st.DrawFn) -> Envelope:
    occurred = draw(instants)
    event = ev.ActivityLogged(
        opportunity_id=draw(ids),
        account_id=draw(ids),
        occurred_at=occurred,
        activity_id=draw(ids),
        kind=draw(ids),
        customer_facing=draw(st.booleans()),
        stage=draw(ids),
        actor_id=draw(ids),
        actor_region=draw(ids),
        contacts=draw(st.lists(text, max_size=3)),
        summary=draw(text),
        objections_raised=draw(st.lists(text, max_size=3)),
        next_step=draw(st.none() | text),
    )
    return Envelope(
        event_id=draw(st.uuids()),
        stream_id=f"opportunity-{event.opportunity_id}",
        stream_type="opportunity",
        version=draw(st.integers(1, 10**6)),
        event=event,
        recorded_at=occurred + draw(st.timedeltas(timedelta(0), timedelta(days=400))),
        key=event.account_id,
        metadata=Metadata(
            correlation_id=draw(st.none() | text),
            causation_id=draw(st.none() | text),
            actor=draw(st.none() | text),
            region=draw(st.none() | ids),
        ),
    )


class TestCloudEventsCodec:
    @PROPERTY
    @given(activity_envelopes())
    def test_encode_then_decode_gives_the_envelope_back(self, envelope: Envelope) -> None:
        record = encode(envelope, SOURCE)

        assert decode(record.headers, record.value, global_registry) == envelope

    @PROPERTY
    @given(
        st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=40)), max_size=12),
        st.none() | st.binary(max_size=200),
    )
    def test_garbage_headers_raise_only_malformed_cloud_event(
        self, headers: list[tuple[str, bytes]], value: bytes | None
    ) -> None:
        with pytest.raises(MalformedCloudEventError):
            decode(headers, value, global_registry)

    @PROPERTY
    @given(
        st.sampled_from(["ce_id", "ce_time", "ce_streamversion", "ce_recordedat", "ce_type"]),
        st.binary(max_size=40),
        st.binary(max_size=300) | st.just(b"[" * 5000) | st.just(b'{"a":' * 3000),
    )
    def test_a_valid_message_with_one_garbage_part_raises_malformed_or_unknown(
        self, header: str, garbage: bytes, body: bytes
    ) -> None:
        record = encode(_sample(), SOURCE)
        headers = [(k, garbage if k == header else v) for k, v in record.headers]

        with pytest.raises((MalformedCloudEventError, UnknownEventError)) as caught:
            decode(headers, body, global_registry)

        if isinstance(caught.value, UnknownEventError):
            # only a well-formed type name of an event this process does not know
            parse_type(garbage.decode())

    @PROPERTY
    @given(
        st.uuids()
        .map(str)
        .flatmap(
            lambda u: st.sampled_from(
                [u, u.upper(), u.replace("-", ""), f"{{{u}}}", f"urn:uuid:{u}", f" {u}", u[1:]]
            )
        )
        | st.text("0123456789abcdefABCDEF-{}_ :nru", min_size=30, max_size=46)
    )
    def test_the_event_id_is_read_as_a_uuid_is_read_or_refused(self, ce_id: str) -> None:
        record = encode(_sample(), SOURCE)
        headers = [(k, ce_id.encode() if k == "ce_id" else v) for k, v in record.headers]
        try:
            expected: uuid.UUID | None = uuid.UUID(ce_id)
        except ValueError:
            expected = None

        if expected is None:
            with pytest.raises(MalformedCloudEventError):
                decode(headers, record.value, global_registry)
        else:
            assert decode(headers, record.value, global_registry).event_id == expected


def _sample() -> Envelope:
    event = ev.StageAdvanced(
        opportunity_id="opp-1",
        account_id="acc-1",
        occurred_at=datetime(2026, 1, 5, tzinfo=UTC),
        from_stage="lead",
        to_stage="initial_contact",
        playbook_version=1,
        days_in_previous_stage=2.5,
    )
    return Envelope(
        uuid.uuid4(), "opportunity-opp-1", "opportunity", 2, event, event.occurred_at, "acc-1"
    )


DEFAULT = default_playbook().model_dump(mode="json")
keys = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("abcdefgh"),
    st.text("abcdefgh0123_", max_size=8),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def label(name: str) -> dict[str, str]:
    return {"en": name, "zh": name}


@st.composite
def playbooks(draw: st.DrawFn) -> dict[str, Any]:
    """A consistent definition: unique keys, requirements naming declared kinds only."""
    artifacts = draw(st.lists(keys, min_size=1, max_size=4, unique=True))
    activities = draw(st.lists(keys, min_size=1, max_size=4, unique=True))
    roles = draw(st.lists(keys, min_size=1, max_size=4, unique=True))
    later = draw(
        st.lists(
            keys.filter(lambda k: k not in ("lead", "won", "lost")),
            min_size=1,
            max_size=5,
            unique=True,
        )
    )

    def requirement() -> Any:
        return st.one_of(
            st.builds(
                lambda a, r: {"type": "artifact", "artifact": a, "min_fill_rate": r},
                st.sampled_from(artifacts),
                st.floats(0, 1),
            ),
            st.builds(
                lambda ks: {"type": "activity", "activity_kinds": ks},
                st.lists(st.sampled_from(activities), min_size=1, max_size=3),
            ),
            st.builds(
                lambda n: {"type": "stakeholder_roles", "min_roles": n},
                st.integers(1, len(roles)),
            ),
        )

    stages = [
        {"key": k, "label": label(k), "exit": draw(st.lists(requirement(), max_size=3))}
        for k in ["lead", *later]
    ]
    return {
        "name": draw(st.text(min_size=1, max_size=20)),
        "stages": stages,
        "artifact_kinds": [
            {"key": a, "label": label(a), "fields": [{"name": "f", "label": label("f")}]}
            for a in artifacts
        ],
        "activity_kinds": [{"key": a, "label": label(a)} for a in activities],
        "stakeholder_roles": [{"key": r, "label": label(r)} for r in roles],
    }


class TestPlaybookParser:
    @PROPERTY
    @given(playbooks())
    def test_a_consistent_definition_parses_and_round_trips_through_json(
        self, raw: dict[str, Any]
    ) -> None:
        parsed = PlaybookDefinition.model_validate(raw)
        again = PlaybookDefinition.model_validate_json(parsed.model_dump_json())

        assert again == parsed
        keys_in_order = [s.key for s in parsed.stages]
        for here, there in itertools.pairwise(keys_in_order):
            assert parsed.next_stage(here) == parsed.stage(there)
        assert parsed.next_stage(keys_in_order[-1]) is None

    @PROPERTY
    @given(json_values)
    def test_garbage_raises_only_a_validation_error(self, raw: Any) -> None:
        with pytest.raises(ValidationError):
            PlaybookDefinition.model_validate(raw)

    @PROPERTY
    @given(st.sampled_from(list(DEFAULT)), json_values)
    def test_one_garbage_section_of_the_default_raises_only_a_validation_error(
        self, section: str, garbage: Any
    ) -> None:
        raw = {**DEFAULT, section: garbage}

        # refused with a reason, or accepted: anything else would escape as a 500 or a crash
        with contextlib.suppress(ValidationError):
            PlaybookDefinition.model_validate(raw)

    @PROPERTY
    @given(playbooks(), st.sampled_from(["artifact_kinds", "activity_kinds", "stakeholder_roles"]))
    def test_a_repeated_kind_key_is_refused(self, raw: dict[str, Any], section: str) -> None:
        raw[section] = [*raw[section], raw[section][0]]

        with pytest.raises(ValidationError, match="unique"):
            PlaybookDefinition.model_validate(raw)

    @PROPERTY
    @given(playbooks(), st.sampled_from(["artifact", "activity"]))
    def test_a_requirement_naming_an_undeclared_kind_is_refused(
        self, raw: dict[str, Any], kind: str
    ) -> None:
        undeclared = "zz_undeclared"
        req = (
            {"type": "artifact", "artifact": undeclared}
            if kind == "artifact"
            else {"type": "activity", "activity_kinds": [undeclared]}
        )
        raw["stages"][0]["exit"] = [req]

        with pytest.raises(ValidationError, match="unknown"):
            PlaybookDefinition.model_validate(raw)

    def test_the_default_playbook_survives_json(self) -> None:
        assert PlaybookDefinition.model_validate_json(json.dumps(DEFAULT)) == default_playbook()
