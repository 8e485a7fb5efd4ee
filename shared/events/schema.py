"""JSON Schema per event type and an AsyncAPI 3 document per service, generated from the models."""

from __future__ import annotations

from typing import Any

from shared.events.cloudevents import EXTENSIONS
from shared.events.registry import EventRegistry


def event_schema(model: Any) -> dict[str, Any]:
    schema: dict[str, Any] = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:sightline:schema:{model.event_name}:{model.event_version}"
    schema["title"] = model.event_name
    schema["x-event-version"] = model.event_version
    schema["x-cloudevents-type"] = model.type_name()
    return schema


def all_schemas(registry: EventRegistry) -> dict[str, dict[str, Any]]:
    return {f"{m.event_name}.v{m.event_version}": event_schema(m) for m in registry}


def asyncapi(registry: EventRegistry, domain: str, topic: str, title: str) -> dict[str, Any]:
    """AsyncAPI 3.0 document for the events one service publishes on its topic."""
    models = [m for m in registry if m.domain == domain]
    messages: dict[str, Any] = {}
    for m in models:
        messages[m.event_name] = {
            "name": m.event_name,
            "title": m.event_name,
            "summary": (m.__doc__ or "").strip().splitlines()[0] if m.__doc__ else "",
            "contentType": "application/json",
            "bindings": {"kafka": {"key": {"type": "string"}, "bindingVersion": "0.5.0"}},
            "headers": {
                "type": "object",
                "required": ["ce_id", "ce_source", "ce_type", "ce_specversion"],
                "properties": {
                    "ce_type": {"const": m.type_name()},
                    "ce_id": {"type": "string", "format": "uuid"},
                    "ce_source": {"type": "string"},
                    "ce_specversion": {"const": "1.0"},
                    "ce_time": {"type": "string", "format": "date-time"},
                    "ce_subject": {"type": "string"},
                    **{h: {"type": "string"} for h in EXTENSIONS.values()},
                },
            },
            "payload": event_schema(m),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": "1.0.0"},
        "defaultContentType": "application/json",
        "channels": {
            topic: {
                "address": topic,
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": {
            f"publish{domain.title()}Events": {
                "action": "send",
                "channel": {"$ref": f"#/channels/{topic}"},
                "messages": [{"$ref": f"#/channels/{topic}/messages/{name}"} for name in messages],
            }
        },
        "components": {"messages": messages},
    }
