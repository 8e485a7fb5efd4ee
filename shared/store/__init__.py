"""Event store, idempotency keys and inbox: the storage behind Sightline's guarantees."""

from shared.store.eventstore import EventStore, Position, StoredEvent

__all__ = ["EventStore", "Position", "StoredEvent"]
