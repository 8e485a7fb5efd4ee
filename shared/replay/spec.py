"""What a service declares for `sightline replay`: its projections, and the groups it refuses.

A projection is a set of tables and the consumer groups that write them: tables written by two
groups (scoring's facts come from two topics) can only be rebuilt together. A group whose
handlers do more than write their own tables (append events, arm timers against the wall clock,
call webhooks, write tables the command path writes too) is refused, with the reason; replaying
it would repeat or distort those effects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.messaging.batch import BatchHandler, Handler

_SAFE = re.compile(r"[^a-z0-9_]")


class ReplayRefusedError(Exception):
    """The asked consumer group cannot be replayed safely (the message says why)."""


class UnknownConsumerError(Exception):
    """No projection or consumer group of the service has that name."""


@dataclass(frozen=True)
class ReplayGroup:
    """One consumer group as its runner is built: unprefixed group id, full topic names."""

    group: str
    topics: tuple[str, ...]
    handlers: Mapping[str, Handler]
    #: a rebuild's bulk handler: the same effect as the handlers applied one by one in order,
    #: given events it has not seen (each once: the replay claims them) and tables only the
    #: replay fills, so it may COPY (shared.replay.bulk) where a live handler would have to upsert
    batch: BatchHandler | None = None


@dataclass(frozen=True)
class Projection:
    name: str
    tables: tuple[str, ...]
    groups: tuple[ReplayGroup, ...]

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for g in self.groups for t in g.topics))

    @property
    def topic_numbers(self) -> dict[str, int]:
        """Each topic's place in `topics` (the small number a claim stores for it)."""
        return {topic: n for n, topic in enumerate(self.topics)}

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.group for g in self.groups)


@dataclass(frozen=True)
class Refusal:
    group: str
    reason: str


@dataclass(frozen=True)
class ReplayPlan:
    service: str
    projections: tuple[Projection, ...]
    refused: tuple[Refusal, ...] = ()

    @property
    def groups(self) -> tuple[str, ...]:
        """Every consumer group the service runs, replayable or not."""
        return (*(g for p in self.projections for g in p.group_names), *self.groups_refused)

    @property
    def groups_refused(self) -> tuple[str, ...]:
        return tuple(r.group for r in self.refused)

    def select(self, consumer: str | None) -> list[Projection]:
        """The projections to rebuild: all of them, or the one holding `consumer` (a group or a
        projection name). Raises ReplayRefusedError or UnknownConsumerError."""
        if consumer is None:
            if not self.projections:
                why = "; ".join(f"{r.group}: {r.reason}" for r in self.refused)
                raise ReplayRefusedError(
                    f"{self.service} has no projection that can be replayed ({why or 'none'})"
                )
            return list(self.projections)
        for refusal in self.refused:
            if refusal.group == consumer:
                raise ReplayRefusedError(
                    f"{self.service}: consumer group {consumer} cannot be replayed: "
                    f"{refusal.reason}"
                )
        chosen = [p for p in self.projections if consumer in (p.name, *p.group_names)]
        if not chosen:
            known = ", ".join(self.groups) or "none"
            raise UnknownConsumerError(
                f"{self.service} has no consumer group or projection {consumer!r} "
                f"(its groups: {known})"
            )
        return chosen


#: what a replay leaves: its build (dropped after a swap), the tables it replaced, an as-of view
SCHEMA_KINDS = ("replay", "archive", "asof")


def schema_name(kind: str, projection: str, stamp: str) -> str:
    """`archive_scoring_facts_20261127t101500`: lower case, digits and `_`, at most 63 bytes."""
    assert kind in SCHEMA_KINDS
    return _SAFE.sub("_", f"{kind}_{projection}_{stamp}".lower())[:63]


def schema_kind(name: str, projection: str) -> str | None:
    """`archive`, `asof` or `replay` if `name` is a schema a replay of `projection` made."""
    tail = re.escape(_SAFE.sub("_", projection.lower()))
    found = re.fullmatch(rf"({'|'.join(SCHEMA_KINDS)})_{tail}_\d{{8}}t\d{{6}}\d*", name)
    return found.group(1) if found else None
