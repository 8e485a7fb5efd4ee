"""CloudEvents 1.0 over Kafka (binary mode), upcasting on decode, and the published schemas."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import pytest
from pydantic_core import to_json

from services.pipeline_svc.domain.playbook import default_playbook
from shared.contracts import pipeline as ev
from shared.events import DomainEvent, Envelope, EventRegistry, Metadata, UnknownEventError
from shared.events import registry as global_registry
from shared.events.cloudevents import (
    EXTENSIONS,
    REQUIRED,
    KafkaRecord,
    MalformedCloudEventError,
    decode,
    encode,
)
from shared.events.schema import all_schemas, asyncapi, event_schema

SOURCE = "/sightline/pipeline"
OCCURRED = datetime(2025, 3, 3, 9, 30, 15, 123456, tzinfo=UTC)
RECORDED = OCCURRED + timedelta(seconds=2)
ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]+$")
BASE = {"opportunity_id": "opp-7", "account_id": "acc-huadong-steel", "occurred_at": OCCURRED}

PIPELINE_CATALOGUE = {
    "PlaybookPublished",
    "OpportunityOpened",
    "ActivityLogged",
    "ArtifactSubmitted",
    "StakeholderMapped",
    "StageAdvanced",
    "StageAdvanceBlocked",
    "OpportunityReassigned",
    "OpportunityWon",
    "OpportunityLost",
}


def activity() -> ev.ActivityLogged:
    return ev.ActivityLogged(
        **BASE,
        activity_id="act-1",
        kind="visit",
        customer_facing=True,
        stage="initial_contact",
        actor_id="rep-east-1",
        actor_region="east",
        contacts=["王经理"],
        summary="现场拜访：讨论两条产线的停机问题",
        objections_raised=["price"],
        next_step="send the requirement checklist",
    )


def samples() -> dict[str, DomainEvent]:
    """One real instance of every pipeline event."""
    missing = ev.MissingItem(
        code="artifact:decision_chain_map",
        requirement="artifact",
        stage="needs_confirmed",
        gate="exit",
        detail="Decision-chain map must be submitted",
        detail_zh="需提交决策链分析图",
    )
    events: list[DomainEvent] = [
        ev.PlaybookPublished(
            occurred_at=OCCURRED,
            playbook_version=2,
            definition=default_playbook(),
            published_by="admin-1",
        ),
        ev.OpportunityOpened(
            **BASE,
            title="Predictive maintenance",
            owner_id="rep-east-1",
            region="east",
            team="east-a",
            amount=Decimal("1350000.50"),
            currency="CNY",
            expected_close_date=date(2025, 9, 30),
            stage="lead",
            playbook_version=1,
        ),
        activity(),
        ev.ArtifactSubmitted(
            **BASE,
            artifact_id="art-1",
            artifact_kind="proposal",
            fields={"price": 1_350_000, "terms": "30% upfront", "valid_until": None},
            fill_rate=0.6667,
            stage="negotiation",
            submitted_by="rep-east-1",
        ),
        ev.StakeholderMapped(
            **BASE, stakeholder_id="sh-1", name="Wang", role="decision_maker", mapped_by="rep"
        ),
        ev.StageAdvanced(
            **BASE,
            from_stage="lead",
            to_stage="initial_contact",
            playbook_version=1,
            days_in_previous_stage=2.5,
        ),
        ev.StageAdvanceBlocked(
            **BASE,
            from_stage="needs_confirmed",
            to_stage="solution_demo",
            playbook_version=1,
            missing=[missing],
            actor_id="rep-east-1",
        ),
        ev.OpportunityReassigned(
            **BASE, from_owner="rep-1", to_owner="rep-2", team="east-b", actor_id="sup-1"
        ),
        ev.OpportunityWon(
            **BASE, amount=Decimal("1320000"), stage="closing", reason="tco", actor_id="rep-1"
        ),
        ev.OpportunityLost(
            **BASE, stage="negotiation", reason="price", competitor="Acme", actor_id="rep-1"
        ),
    ]
    return {e.event_name: e for e in events}


def envelope(event: DomainEvent | None = None, **overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "stream_id": "opp-7",
        "stream_type": "opportunity",
        "version": 4,
        "event": event or activity(),
        "recorded_at": RECORDED,
        "key": "acc-huadong-steel",
        "metadata": Metadata(
            correlation_id="corr-1", causation_id="cmd-9", actor="rep-east-1", region="east"
        ),
    }
    return Envelope(**{**fields, **overrides})


def headers_of(record: KafkaRecord) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


def with_headers(record: KafkaRecord, **changes: str | None) -> list[tuple[str, bytes]]:
    """The record's headers with some replaced (a value) or dropped (None)."""
    out = [(k, v) for k, v in record.headers if k not in changes]
    out += [(k, v.encode()) for k, v in changes.items() if v is not None]
    return out


class TestEncoding:
    def test_the_required_attributes_are_headers(self) -> None:
        env = envelope()

        headers = headers_of(encode(env, SOURCE))

        assert headers["ce_id"] == str(env.event_id)
        assert headers["ce_source"] == SOURCE
        assert headers["ce_type"] == "sightline.pipeline.ActivityLogged.v1"
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_time"] == OCCURRED.isoformat()
        assert headers["ce_subject"] == "opp-7"
        assert headers["content-type"] == "application/json"

    def test_the_extensions_carry_stream_position_tracing_and_routing(self) -> None:
        headers = headers_of(encode(envelope(), SOURCE))

        assert {name: headers[f"ce_{name}"] for name in EXTENSIONS} == {
            "streamid": "opp-7",
            "streamtype": "opportunity",
            "streamversion": "4",
            "correlationid": "corr-1",
            "causationid": "cmd-9",
            "actor": "rep-east-1",
            "region": "east",
            "recordedat": RECORDED.isoformat(),
            "partitionkey": "acc-huadong-steel",
        }

    def test_every_attribute_name_is_lower_case_letters_and_digits(self) -> None:
        names = [k.removeprefix("ce_") for k, _ in encode(envelope(), SOURCE).headers]
        attributes = [n for n in names if n != "content-type"]

        assert len(attributes) == len(names) - 1
        assert [n for n in attributes if not ATTRIBUTE_NAME.fullmatch(n)] == []
        assert all(ATTRIBUTE_NAME.fullmatch(n) for n in EXTENSIONS)
        assert all(h == f"ce_{n}" for n, h in EXTENSIONS.items())

    def test_the_key_is_the_partition_key_and_the_body_is_the_json_payload(self) -> None:
        env = envelope()

        record = encode(env, SOURCE)

        assert record.key == b"acc-huadong-steel"
        assert json.loads(record.value) == env.event.payload()
        assert "现场拜访" in record.value.decode()

    def test_absent_metadata_is_left_out_rather_than_sent_empty(self) -> None:
        headers = headers_of(encode(envelope(metadata=Metadata()), SOURCE))

        assert {"ce_correlationid", "ce_causationid", "ce_actor", "ce_region"} & set(headers) == (
            set()
        )


class TestRoundTrip:
    def test_decode_of_encode_gives_back_the_same_envelope(self) -> None:
        env = envelope()
        record = encode(env, SOURCE)

        decoded = decode(record.headers, record.value, global_registry)

        assert decoded == env
        assert decoded.metadata == env.metadata
        assert decoded.event.payload() == env.event.payload()

    @pytest.mark.parametrize("name", sorted(PIPELINE_CATALOGUE))
    def test_every_pipeline_event_survives_the_round_trip(self, name: str) -> None:
        env = envelope(samples()[name])
        record = encode(env, SOURCE)

        assert decode(tuple(record.headers), record.value, global_registry) == env

    def test_a_round_trip_without_metadata_keeps_it_empty(self) -> None:
        env = envelope(metadata=Metadata())
        record = encode(env, SOURCE)

        assert decode(record.headers, record.value, global_registry).metadata == Metadata()


class TestMalformedMessages:
    @pytest.mark.parametrize("attribute", REQUIRED)
    def test_a_missing_required_attribute_is_refused(self, attribute: str) -> None:
        record = encode(envelope(), SOURCE)

        with pytest.raises(MalformedCloudEventError, match=attribute):
            decode(with_headers(record, **{attribute: None}), record.value, global_registry)

    @pytest.mark.parametrize("version", ["0.3", "1", "2.0", ""])
    def test_another_specversion_is_refused(self, version: str) -> None:
        record = encode(envelope(), SOURCE)

        with pytest.raises(MalformedCloudEventError, match="specversion"):
            decode(with_headers(record, ce_specversion=version), record.value, global_registry)

    @pytest.mark.parametrize(
        "body", [b"not json", b"", None, b"[1, 2]", b'"text"', b"\xff\xfe"], ids=repr
    )
    def test_a_body_that_is_not_a_json_object_is_refused(self, body: bytes | None) -> None:
        record = encode(envelope(), SOURCE)

        with pytest.raises(MalformedCloudEventError):
            decode(record.headers, body, global_registry)

    @pytest.mark.parametrize(
        "change",
        [
            {"activity_id": None},
            {"customer_facing": "perhaps"},
            {"occurred_at": "2025-03-03T09:30:00"},
            {"unexpected": "field"},
        ],
        ids=["missing-field", "wrong-type", "naive-time", "extra-field"],
    )
    def test_a_body_that_does_not_match_the_model_is_refused(self, change: dict[str, Any]) -> None:
        record = encode(envelope(), SOURCE)
        payload = json.loads(record.value)
        for k, v in change.items():
            if v is None:
                del payload[k]
            else:
                payload[k] = v

        with pytest.raises(MalformedCloudEventError):
            decode(record.headers, json.dumps(payload).encode(), global_registry)

    @pytest.mark.parametrize(
        "ce_type",
        ["com.example.ActivityLogged", "sightline.pipeline.ActivityLogged", "x.y.z.v1", "a.b.C.vX"],
    )
    def test_a_type_outside_the_naming_scheme_is_refused(self, ce_type: str) -> None:
        record = encode(envelope(), SOURCE)

        with pytest.raises(MalformedCloudEventError, match="ce_type"):
            decode(with_headers(record, ce_type=ce_type), record.value, global_registry)

    @pytest.mark.parametrize(
        "ce_type",
        ["sightline.pipeline.DealTeleported.v1", "sightline.pipeline.ActivityLogged.v99"],
        ids=["unknown-name", "newer-version"],
    )
    def test_an_event_type_this_process_does_not_know_is_refused(self, ce_type: str) -> None:
        record = encode(envelope(), SOURCE)

        with pytest.raises(UnknownEventError):
            decode(with_headers(record, ce_type=ce_type), record.value, global_registry)

    @pytest.mark.parametrize(
        ("header", "value"),
        [("ce_id", "not-a-uuid"), ("ce_streamversion", "four"), ("ce_recordedat", "yesterday")],
    )
    def test_a_malformed_attribute_value_is_refused(self, header: str, value: str) -> None:
        record = encode(envelope(), SOURCE)

        with pytest.raises(MalformedCloudEventError):
            decode(with_headers(record, **{header: value}), record.value, global_registry)

    def test_a_header_that_is_not_utf8_is_refused(self) -> None:
        record = encode(envelope(), SOURCE)
        headers = [*record.headers, ("ce_actor", b"\xff\xfe")]

        with pytest.raises(MalformedCloudEventError, match="UTF-8"):
            decode(headers, record.value, global_registry)


class NoteTaken(DomainEvent):
    """Version 1: a free-text note."""

    event_name: ClassVar[str] = "NoteTaken"
    domain: ClassVar[str] = "pipeline"
    text: str


class NoteTakenV2(DomainEvent):
    """Version 2: the note's text split into a title and a body."""

    event_name: ClassVar[str] = "NoteTaken"
    event_version: ClassVar[int] = 2
    domain: ClassVar[str] = "pipeline"
    title: str
    body: str


class TestUpcasting:
    def registry_with_upcaster(self) -> EventRegistry:
        private = EventRegistry()
        private.register(NoteTaken)
        private.register(NoteTakenV2)

        @private.upcaster("NoteTaken", from_version=1)
        def split_text(payload: dict[str, Any]) -> dict[str, Any]:
            title, _, body = payload.pop("text").partition("\n")
            return {**payload, "title": title, "body": body}

        return private

    def test_a_v1_message_decodes_as_the_v2_model(self) -> None:
        old = envelope(NoteTaken(occurred_at=OCCURRED, text="Site visit\nboth lines down"))
        record = encode(old, SOURCE)
        assert headers_of(record)["ce_type"] == "sightline.pipeline.NoteTaken.v1"

        decoded = decode(record.headers, record.value, self.registry_with_upcaster())

        assert decoded.event == NoteTakenV2(
            occurred_at=OCCURRED, title="Site visit", body="both lines down"
        )
        assert (decoded.event_id, decoded.version, decoded.metadata) == (
            old.event_id,
            old.version,
            old.metadata,
        )

    def test_a_v2_message_is_not_upcast_again(self) -> None:
        new = envelope(NoteTakenV2(occurred_at=OCCURRED, title="t", body="b"))
        record = encode(new, SOURCE)

        assert decode(record.headers, record.value, self.registry_with_upcaster()) == new

    def test_without_an_upcaster_an_old_version_is_unknown(self) -> None:
        private = EventRegistry()
        private.register(NoteTaken)
        private.register(NoteTakenV2)
        record = encode(envelope(NoteTaken(occurred_at=OCCURRED, text="x")), SOURCE)

        with pytest.raises(UnknownEventError, match="no upcaster"):
            decode(record.headers, record.value, private)

    def test_a_private_registry_does_not_leak_into_the_global_one(self) -> None:
        self.registry_with_upcaster()

        assert not global_registry.knows("NoteTaken")
        assert global_registry.knows("ActivityLogged")

    def test_registering_another_model_under_a_taken_name_and_version_is_refused(self) -> None:
        private = EventRegistry()
        private.register(NoteTaken)

        class Impostor(NoteTaken):
            pass

        with pytest.raises(ValueError, match="registered twice"):
            private.register(Impostor)


class TestSchemas:
    def test_the_registry_holds_the_whole_pipeline_catalogue(self) -> None:
        names = {m.event_name for m in global_registry if m.domain == "pipeline"}

        assert names == PIPELINE_CATALOGUE

    def test_every_registered_event_has_an_identified_draft_2020_12_schema(self) -> None:
        schemas = all_schemas(global_registry)

        assert len(schemas) == len(list(global_registry))
        for model in global_registry:
            schema = schemas[f"{model.event_name}.v{model.event_version}"]
            assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
            assert schema["$id"] == (
                f"urn:sightline:schema:{model.event_name}:{model.event_version}"
            )
            assert schema["title"] == model.event_name
            assert schema["x-cloudevents-type"] == model.type_name()
            assert schema["type"] == "object"
            assert schema["additionalProperties"] is False
            required = {n for n, f in model.model_fields.items() if f.is_required()}
            assert set(schema["required"]) == required
            assert "occurred_at" in required
            assert set(schema["properties"]) == set(model.model_fields)

    @pytest.mark.parametrize("name", sorted(PIPELINE_CATALOGUE))
    def test_a_real_payload_fits_its_schema(self, name: str) -> None:
        event = samples()[name]
        schema = event_schema(type(event))
        payload = json.loads(json.dumps(event.payload()))

        assert set(schema["required"]) <= set(payload) <= set(schema["properties"])
        for field, value in payload.items():
            assert_json_type(value, schema["properties"][field], schema)

    def test_the_dataschema_header_names_the_schema_id(self) -> None:
        headers = headers_of(encode(envelope(), SOURCE))

        assert headers["ce_dataschema"] == event_schema(ev.ActivityLogged)["$id"]


class TestAsyncApi:
    def document(self) -> dict[str, Any]:
        return asyncapi(global_registry, "pipeline", "pipeline.events", "Sightline pipeline")

    def test_the_document_is_asyncapi_3(self) -> None:
        doc = self.document()

        assert doc["asyncapi"] == "3.0.0"
        assert doc["info"]["title"] == "Sightline pipeline"
        assert doc["channels"]["pipeline.events"]["address"] == "pipeline.events"

    def test_there_is_one_message_per_pipeline_event(self) -> None:
        doc = self.document()

        assert set(doc["components"]["messages"]) == PIPELINE_CATALOGUE
        assert set(doc["channels"]["pipeline.events"]["messages"]) == PIPELINE_CATALOGUE

    def test_every_reference_resolves_to_a_message_with_its_type_and_schema(self) -> None:
        doc = self.document()
        (operation,) = doc["operations"].values()

        assert operation["action"] == "send"
        assert resolve(doc, operation["channel"]["$ref"]) is doc["channels"]["pipeline.events"]
        assert len(operation["messages"]) == len(PIPELINE_CATALOGUE)
        for ref in operation["messages"]:
            channel_message = resolve(doc, ref["$ref"])
            message = resolve(doc, channel_message["$ref"])
            model = global_registry.model(message["name"])
            assert message["headers"]["properties"]["ce_type"] == {"const": model.type_name()}
            assert message["payload"]["$id"] == event_schema(model)["$id"]
            assert set(REQUIRED) <= set(message["headers"]["required"])

    def test_another_domain_gets_none_of_the_pipeline_messages(self) -> None:
        doc = asyncapi(global_registry, "nowhere", "nowhere.events", "Nothing")

        assert doc["components"]["messages"] == {}


def resolve(doc: dict[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer (`#/a/b`); channel names may contain dots, not slashes."""
    assert ref.startswith("#/")
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def assert_json_type(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> None:
    """A small structural check (jsonschema is not installed): types, refs, unions, arrays."""
    if "$ref" in schema:
        schema = resolve(root, schema["$ref"])
    if "anyOf" in schema:
        errors = 0
        for option in schema["anyOf"]:
            try:
                assert_json_type(value, option, root)
            except AssertionError:
                errors += 1
        assert errors < len(schema["anyOf"]), (value, schema)
        return
    if "const" in schema:
        assert value == schema["const"]
    if "enum" in schema:
        assert value in schema["enum"]
    kind = schema.get("type")
    if kind is None:
        return
    of_type = isinstance(value, JSON_TYPES[kind])
    assert of_type, (value, schema)
    if kind in ("integer", "number"):
        assert not isinstance(value, bool)
    if kind == "array" and "items" in schema:
        for item in value:
            assert_json_type(item, schema["items"], root)
    if kind == "object":
        for name in schema.get("required", []):
            assert name in value, (name, schema)
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                assert_json_type(value[name], sub, root)


@pytest.mark.parametrize("name", sorted(PIPELINE_CATALOGUE))
def test_an_events_own_json_is_the_json_of_its_payload(name: str) -> None:
    # the event store writes `to_json(event)` for the payload column
    event = samples()[name]
    assert to_json(event) == to_json(event.payload())
