"""Event contracts: the base model, the registry, the envelope and the CloudEvents codec."""

from shared.events.base import DomainEvent
from shared.events.envelope import Envelope, Metadata, NewEvent
from shared.events.registry import EventRegistry, UnknownEventError, registry

__all__ = [
    "DomainEvent",
    "Envelope",
    "EventRegistry",
    "Metadata",
    "NewEvent",
    "UnknownEventError",
    "registry",
]
