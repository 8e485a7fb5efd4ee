"""The event catalogue: every service's published events, registered in `shared.events.registry`."""

from shared.contracts import alert, collab, pipeline, playbook, rules, scoring

__all__ = ["alert", "collab", "pipeline", "playbook", "rules", "scoring"]
