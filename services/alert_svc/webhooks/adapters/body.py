"""The body a webhook sends: the event as a CloudEvent in structured mode (one JSON object).

Built from the same codec as the Kafka messages, so the attributes are those partners already
know from the topics: `ce_type` becomes `type`, `ce_region` becomes `region`, and so on.
"""

from __future__ import annotations

import json
from typing import Any

from shared.events.cloudevents import encode
from shared.events.envelope import Envelope


def structured(envelope: Envelope) -> str:
    record = encode(envelope, f"/sightline/{envelope.event.domain}")
    attributes: dict[str, Any] = {}
    for name, value in record.headers:
        if name == "content-type":
            attributes["datacontenttype"] = value.decode()
        elif name.startswith("ce_"):
            attributes[name.removeprefix("ce_")] = value.decode()
    attributes["data"] = json.loads(record.value)
    return json.dumps(attributes, ensure_ascii=False, separators=(",", ":"))
