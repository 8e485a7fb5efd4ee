"""The event catalogue: every service's published events, registered in `shared.events.registry`."""

from shared.contracts import collab, pipeline, playbook, scoring

__all__ = ["collab", "pipeline", "playbook", "scoring"]
