"""The verdict: pure functions from the command log, the faults and a snapshot to checks."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from chaos.client import SYNC_KINDS, Command
from chaos.faults import FaultRecord
from chaos.org import OWNER_REGION
from chaos.snapshot import Snapshot, StoredEvent
from services.collab_svc.application.timeline import KINDS as TIMELINE_KINDS

SHOWN = 5


@dataclass
class Check:
    name: str
    expected: str
    found: str
    ok: bool
    details: list[str] = field(default_factory=list)


def _check(name: str, expected: str, found: str, problems: list[str]) -> Check:
    return Check(name, expected, found, not problems, problems[:SHOWN])


def expected_events(command: Command) -> tuple[str, ...]:
    """What the command's service must have stored for it (a sync may match no deal)."""
    if command.kind in SYNC_KINDS and isinstance(command.response, dict):
        results = command.response.get("results") or [{}]
        if results[0].get("status") == "unmatched":
            return ()
    return command.expected_events


def _by_correlation(events: list[StoredEvent]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for e in events:
        if e.correlation_id is not None:
            found.setdefault(e.correlation_id, []).append(e.name)
    return found


def command_checks(commands: list[Command], snap: Snapshot) -> list[Check]:
    stored = {svc: _by_correlation(events) for svc, events in snap.events.items()}
    unanswered = [c for c in commands if c.status is None]
    ok = [c for c in commands if c.succeeded]
    refused = [c for c in commands if c.refused]
    wrong = []
    for c in ok:
        names = sorted(stored[c.service].get(c.id, []))
        if names != sorted(expected_events(c)):
            wrong.append(f"{c.kind} {c.id} ({c.status}, attempts {c.attempts}): stored {names}")
    leaked = [
        f"{c.kind} {c.id} ({c.status}): stored {stored[c.service][c.id]}"
        for c in refused
        if stored[c.service].get(c.id)
    ]
    repeats = [c for c in commands if c.repeat_of is not None and c.status is not None]
    differing = [
        f"{c.kind} {c.id}: first {c.repeat_of.status} {c.repeat_of.response!r}, "
        f"then {c.status} {c.response!r}"
        for c in repeats
        if c.repeat_of is not None
        and (c.status, c.response) != (c.repeat_of.status, c.repeat_of.response)
    ]
    return [
        _check(
            "every command answered (retries included)",
            "0 unanswered",
            f"{len(unanswered)} of {len(commands)} unanswered",
            [f"{c.kind} {c.path}: attempts {c.attempts}" for c in unanswered],
        ),
        _check(
            "2xx command: exactly its event in the store",
            f"{len(ok)} commands",
            f"{len(ok) - len(wrong)} exact, {len(wrong)} not",
            wrong,
        ),
        _check(
            "4xx command: no event in the store",
            f"{len(refused)} commands",
            f"{len(leaked)} left events",
            leaked,
        ),
        _check(
            "a resent Idempotency-Key gets the first answer",
            f"{len(repeats)} resends",
            f"{len(repeats) - len(differing)} same",
            differing,
        ),
    ]


def topic_checks(snap: Snapshot) -> list[Check]:
    checks = []
    for svc, events in snap.events.items():
        on_topic = snap.topic_ids.get(svc, Counter())
        ids = {e.event_id for e in events}
        missing = sorted(ids - set(on_topic))
        foreign = sorted(set(on_topic) - ids)
        repeats = sum(n - 1 for n in on_topic.values() if n > 1)
        checks.append(
            _check(
                f"{svc} events on {svc}.events",
                f"{len(ids)} ids",
                f"{len(ids) - len(missing)} there ({repeats} repeats), {len(foreign)} unknown",
                [f"missing {i}" for i in missing] + [f"not in the store {i}" for i in foreign],
            )
        )
    return checks


def projection_checks(snap: Snapshot) -> list[Check]:
    pipeline, collab = snap.events.get("pipeline", []), snap.events.get("collab", [])
    # the timeline: one entry per account event of pipeline and collab
    wanted = {
        e.event_id
        for e in pipeline + collab
        if e.name in TIMELINE_KINDS and "account_id" in e.payload
    }
    entries = Counter(snap.timeline_ids)
    timeline_problems = [f"no entry for {i}" for i in sorted(wanted - set(entries))]
    timeline_problems += [f"{n} entries for {i}" for i, n in entries.items() if n > 1]
    stored = {e.event_id for events in snap.events.values() for e in events}
    timeline_problems += [f"entry for unknown event {i}" for i in sorted(set(entries) - stored)]

    # conflicts: one per activity by a region not owning the deal's account, none otherwise
    activities = [e.payload for e in pipeline if e.name == "ActivityLogged"]
    conflicting = {a["activity_id"] for a in activities if a.get("actor_region") != OWNER_REGION}
    rows = Counter(snap.conflict_activity_ids)
    detected = Counter(
        str(e.payload.get("activity_id")) for e in collab if e.name == "CrossRegionConflictDetected"
    )
    conflict_problems = []
    for a in sorted(conflicting):
        if rows[a] != 1 or detected[a] != 1:
            conflict_problems.append(f"activity {a}: {rows[a]} rows, {detected[a]} events")
    for a in sorted((set(rows) | set(detected)) - conflicting):
        conflict_problems.append(f"conflict for a permitted activity {a}")

    owners = [
        f"{a}: collab {snap.collab_owners.get(a)}, pipeline {snap.pipeline_owners.get(a)}"
        for a in sorted(set(snap.collab_owners) | set(snap.pipeline_owners))
        if snap.collab_owners.get(a) != snap.pipeline_owners.get(a)
    ]
    return [
        _check(
            "collab timeline: each account event once",
            f"{len(wanted)} entries",
            f"{len(wanted & set(entries))} there, {len(entries)} rows",
            timeline_problems,
        ),
        _check(
            "collab conflicts: once per conflicting activity",
            f"{len(conflicting)} conflicts",
            f"{sum(rows.values())} rows, {sum(detected.values())} events",
            conflict_problems,
        ),
        _check(
            "pipeline account owners = collab's",
            f"{len(snap.collab_owners)} accounts",
            f"{len(snap.collab_owners) - len(owners)} equal",
            owners,
        ),
    ]


def delivery_checks(snap: Snapshot) -> list[Check]:
    parked = [f"{t}: {n} messages" for t, n in snap.dlq_messages.items() if n]
    parked += [f"dead_letters in {svc}: {n} rows" for svc, n in snap.dead_letter_rows.items() if n]
    unpublished = {
        svc: sum(1 for e in events if not e.published) for svc, events in snap.events.items()
    }
    tables = ", ".join(snap.dead_letter_rows) or "none"
    return [
        _check(
            "nothing dead-lettered",
            "0",
            f"{len(snap.dlq_messages)} DLQ topics, dead_letters tables: {tables}",
            parked,
        ),
        _check(
            "outbox empty (published_at IS NULL)",
            "0",
            str(sum(unpublished.values())),
            [f"{svc}: {n}" for svc, n in unpublished.items() if n],
        ),
        _check(
            "consumer lag",
            "0",
            str(sum(snap.lag.values())),
            [f"{g}: {n}" for g, n in snap.lag.items() if n],
        ),
    ]


def run_checks(faults: list[FaultRecord], harness_failures: list[str]) -> list[Check]:
    problems = [f"{f.name}: {p}" for f in faults for p in f.problems]
    return [
        _check(
            "faults recovered by the runtime itself",
            f"{len(faults)} faults",
            f"{sum(1 for f in faults if not f.problems)} recovered",
            problems,
        ),
        _check(
            "load steps ran without harness errors",
            "0",
            str(len(harness_failures)),
            harness_failures,
        ),
    ]


def evaluate(
    commands: list[Command],
    faults: list[FaultRecord],
    harness_failures: list[str],
    snap: Snapshot,
) -> list[Check]:
    return [
        *run_checks(faults, harness_failures),
        *command_checks(commands, snap),
        *topic_checks(snap),
        *projection_checks(snap),
        *delivery_checks(snap),
    ]
