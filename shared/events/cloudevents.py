"""CloudEvents 1.0, Kafka protocol binding, binary content mode: headers + JSON body."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from asyncpg.pgproto import pgproto

from shared.events.envelope import Envelope, Metadata
from shared.events.registry import EventRegistry, UnknownEventError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
#: CloudEvents extension attributes: lower-case letters and digits only
EXTENSIONS = {
    "streamid": "ce_streamid",
    "streamtype": "ce_streamtype",
    "streamversion": "ce_streamversion",
    "correlationid": "ce_correlationid",
    "causationid": "ce_causationid",
    "actor": "ce_actor",
    "region": "ce_region",
    "recordedat": "ce_recordedat",
    "partitionkey": "ce_partitionkey",
}
REQUIRED = ("ce_id", "ce_source", "ce_type", "ce_specversion")
_REQUIRED = frozenset(REQUIRED)


class MalformedCloudEventError(ValueError):
    """A message that is not a valid Sightline CloudEvent."""


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def encode(envelope: Envelope, source: str) -> KafkaRecord:
    ev = envelope.event
    body = json.dumps(ev.payload(), ensure_ascii=False, separators=(",", ":")).encode()
    return encode_stored(
        StoredFields(
            event_id=str(envelope.event_id),
            type_name=ev.type_name(),
            event_name=ev.event_name,
            event_version=ev.event_version,
            occurred_at=ev.occurred_at,
            stream_id=envelope.stream_id,
            stream_type=envelope.stream_type,
            stream_version=envelope.version,
            recorded_at=envelope.recorded_at,
            key=envelope.key,
            metadata=envelope.metadata,
        ),
        body,
        source,
    )


@dataclass(frozen=True, slots=True)
class StoredFields:
    """What a CloudEvent needs of a stored event, without parsing its payload."""

    event_id: str
    type_name: str
    event_name: str
    event_version: int
    occurred_at: datetime
    stream_id: str
    stream_type: str
    stream_version: int
    recorded_at: datetime
    key: str
    metadata: Metadata


def encode_stored(f: StoredFields, body: bytes, source: str) -> KafkaRecord:
    """The relay's path: the stored JSON body travels as it is."""
    meta = f.metadata
    attrs: dict[str, str | None] = {
        "ce_id": f.event_id,
        "ce_source": source,
        "ce_type": f.type_name,
        "ce_specversion": SPEC_VERSION,
        "ce_time": f.occurred_at.isoformat(),
        "ce_subject": f.stream_id,
        "ce_dataschema": f"urn:sightline:schema:{f.event_name}:{f.event_version}",
        "content-type": CONTENT_TYPE,
        "ce_streamid": f.stream_id,
        "ce_streamtype": f.stream_type,
        "ce_streamversion": str(f.stream_version),
        "ce_correlationid": meta.correlation_id,
        "ce_causationid": meta.causation_id,
        "ce_actor": meta.actor,
        "ce_region": meta.region,
        "ce_recordedat": f.recorded_at.isoformat(),
        "ce_partitionkey": f.key,
    }
    headers = [(k, v.encode()) for k, v in attrs.items() if v is not None]
    return KafkaRecord(key=f.key.encode(), value=body, headers=headers)


@functools.lru_cache(maxsize=1024)  # a topic carries a handful, and every message names one
def parse_type(ce_type: str) -> tuple[str, int]:
    """`sightline.pipeline.ActivityLogged.v1` -> ("ActivityLogged", 1)."""
    parts = ce_type.split(".")
    if len(parts) != 4 or parts[0] != "sightline" or not parts[3].startswith("v"):
        raise MalformedCloudEventError(f"unexpected ce_type {ce_type!r}")
    try:
        return parts[2], int(parts[3][1:])
    except ValueError:
        raise MalformedCloudEventError(f"unexpected ce_type {ce_type!r}") from None


def header_map(headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...]) -> dict[str, str]:
    try:
        return {k: v.decode() for k, v in headers}
    except UnicodeDecodeError as exc:
        raise MalformedCloudEventError("header is not UTF-8") from exc


def decode(
    headers: list[tuple[str, bytes]] | tuple[tuple[str, bytes], ...],
    value: bytes | None,
    registry: EventRegistry,
) -> Envelope:
    """Turn a Kafka message back into an envelope; raises on anything malformed or unknown."""
    return decode_mapped(header_map(headers), value, registry)


def decode_mapped(h: dict[str, str], value: bytes | None, registry: EventRegistry) -> Envelope:
    """`decode` for a caller that has read the headers already (`header_map`)."""
    if not h.keys() >= _REQUIRED:
        missing = [name for name in REQUIRED if name not in h]
        raise MalformedCloudEventError(f"missing CloudEvents attributes: {', '.join(missing)}")
    if h["ce_specversion"] != SPEC_VERSION:
        raise MalformedCloudEventError(f"unsupported specversion {h['ce_specversion']}")
    name, version = parse_type(h["ce_type"])
    if not registry.knows(name):
        raise UnknownEventError(name)
    get = h.get
    try:
        event = registry.parse_json(name, version, value or b"")
        stream_id = get("ce_streamid") or get("ce_subject") or ""
        return Envelope(
            event_id=event_id(h["ce_id"]),
            stream_id=stream_id,
            stream_type=get("ce_streamtype", ""),
            version=int(get("ce_streamversion", "0")),
            event=event,
            recorded_at=datetime.fromisoformat(get("ce_recordedat") or h["ce_time"]),
            key=get("ce_partitionkey", stream_id),
            metadata=Metadata(
                get("ce_correlationid"), get("ce_causationid"), get("ce_actor"), get("ce_region")
            ),
        )
    except UnknownEventError:
        raise
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        # RecursionError: a body nested deeper than the JSON parser goes
        raise MalformedCloudEventError(str(exc)[:500]) from exc


def event_id(text: str) -> UUID:
    """`UUID(text)`, parsed by asyncpg's UUID (a subclass, equal and hashed alike, a few times
    faster to build, and written to PostgreSQL without a detour) where it can: it reads the
    hex digits and dashes of a 32 to 36 character text, a subset of what `UUID` reads."""
    try:
        parsed: UUID = pgproto.UUID(text)
    except ValueError:
        parsed = UUID(text)
    return parsed
