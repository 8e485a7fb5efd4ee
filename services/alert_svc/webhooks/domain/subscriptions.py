"""A subscription: which events (by type and region) go to which URL, signed with its secret."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: in `event_types`, every event type
WILDCARD = "*"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 random bytes


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: str
    url: str
    event_types: tuple[str, ...]
    #: only events of this region; None: every event, with or without a region
    region: str | None = None


def matches(sub: Subscription, event_type: str, region: str | None) -> bool:
    """An event goes to a subscription that names its type (or `*`) and, if set, its region."""
    wanted = WILDCARD in sub.event_types or event_type in sub.event_types
    return wanted and (sub.region is None or sub.region == region)


def event_region(payload: Mapping[str, Any], metadata_region: str | None) -> str | None:
    """The event's own `region` field when it has one, else the region of its metadata."""
    region = payload.get("region")
    if isinstance(region, str) and region:
        return region
    return metadata_region


def new_secret() -> str:
    """A signing secret in the Standard Webhooks format: `whsec_` + base64 of random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True, slots=True)
class CreateWebhook:
    url: str
    event_types: tuple[str, ...]
    region: str | None
    description: str | None = None


def normal_types(event_types: tuple[str, ...]) -> list[str]:
    """Deduplicated, in the given order; `*` alone stands for everything."""
    if WILDCARD in event_types:
        return [WILDCARD]
    return list(dict.fromkeys(event_types))
