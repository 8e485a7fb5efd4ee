"""The event catalogue: every service's published events, registered in `shared.events.registry`."""

from shared.contracts import pipeline, playbook

__all__ = ["pipeline", "playbook"]
