"""The chaos harness's verdict: each check fails on the discrepancy it exists to catch."""

from __future__ import annotations

from collections import Counter

from chaos.checks import Check, evaluate
from chaos.client import Command
from chaos.faults import FaultRecord
from chaos.snapshot import Snapshot, StoredEvent


def event(
    event_id: str, name: str, cid: str | None, published: bool = True, **payload: object
) -> StoredEvent:
    return StoredEvent(event_id, name, cid, dict(payload), published)


def answered(cid: str, status: int, kind: str = "log_activity", **response: object) -> Command:
    command = Command(kind, "pipeline", "/x", {}, "east_rep", ("ActivityLogged",), id=cid)
    command.status, command.response, command.attempts = status, response, [str(status)]
    return command


def healthy() -> tuple[list[Command], Snapshot]:
    """One logged activity by the owning region and one synced conflicting one, all delivered."""
    own = event(
        "e1", "ActivityLogged", "c1", account_id="a", activity_id="act1", actor_region="east"
    )
    foreign = event(
        "e2", "ActivityLogged", "c2", account_id="a", activity_id="act2", actor_region="south"
    )
    conflict = event("e3", "CrossRegionConflictDetected", "c2x", account_id="a", activity_id="act2")
    snap = Snapshot(
        events={"pipeline": [own, foreign], "collab": [conflict]},
        timeline_ids=["e1", "e2", "e3"],
        conflict_activity_ids=["act2"],
        collab_owners={"a": "east"},
        pipeline_owners={"a": "east"},
        topic_ids={"pipeline": Counter({"e1": 1, "e2": 2}), "collab": Counter({"e3": 1})},
        dlq_messages={"collab-timeline.dlq": 0},
        lag={"collab-timeline": 0},
    )
    commands = [
        answered("c1", 200),
        answered("c2", 200, "sync_conflict", results=[{"status": "created"}]),
        answered("c9", 403),
    ]
    return commands, snap


def failed(checks: list[Check]) -> list[str]:
    return [c.name for c in checks if not c.ok]


def test_a_run_where_everything_arrived_once_passes_every_check() -> None:
    commands, snap = healthy()
    assert failed(evaluate(commands, [FaultRecord("kill -9 pipeline")], [], snap)) == []


def test_a_succeeded_command_without_its_event_fails() -> None:
    commands, snap = healthy()
    commands.append(answered("c4", 200))
    assert failed(evaluate(commands, [], [], snap)) == [
        "2xx command: exactly its event in the store"
    ]


def test_a_succeeded_command_stored_twice_fails() -> None:
    commands, snap = healthy()
    snap.events["pipeline"].append(
        event("e9", "ActivityLogged", "c1", account_id="a", activity_id="act9", actor_region="east")
    )
    snap.timeline_ids.append("e9")
    snap.topic_ids["pipeline"]["e9"] = 1
    assert "2xx command: exactly its event in the store" in failed(evaluate(commands, [], [], snap))


def test_a_refused_command_that_left_an_event_fails() -> None:
    commands, snap = healthy()
    snap.events["pipeline"].append(event("e9", "Noted", "c9"))
    snap.topic_ids["pipeline"]["e9"] = 1
    assert failed(evaluate(commands, [], [], snap)) == ["4xx command: no event in the store"]


def test_an_unanswered_command_fails() -> None:
    commands, snap = healthy()
    lost = Command("open_deal", "pipeline", "/x", {}, "east_rep", ("OpportunityOpened",))
    lost.attempts = ["ConnectError"] * 3
    commands.append(lost)
    assert failed(evaluate(commands, [], [], snap)) == ["every command answered (retries included)"]


def test_an_event_missing_from_its_topic_fails_but_repeats_do_not() -> None:
    commands, snap = healthy()
    del snap.topic_ids["pipeline"]["e1"]
    assert failed(evaluate(commands, [], [], snap)) == ["pipeline events on pipeline.events"]


def test_a_timeline_without_an_entry_fails() -> None:
    commands, snap = healthy()
    snap.timeline_ids.remove("e2")
    assert failed(evaluate(commands, [], [], snap)) == ["collab timeline: each account event once"]


def test_a_missing_or_doubled_or_unwarranted_conflict_fails() -> None:
    name = "collab conflicts: once per conflicting activity"
    commands, snap = healthy()
    snap.conflict_activity_ids = []
    assert failed(evaluate(commands, [], [], snap)) == [name]
    commands, snap = healthy()
    snap.conflict_activity_ids.append("act2")
    assert failed(evaluate(commands, [], [], snap)) == [name]
    commands, snap = healthy()
    snap.conflict_activity_ids.append("act1")
    assert failed(evaluate(commands, [], [], snap)) == [name]


def test_a_pipeline_owner_differing_from_collab_fails() -> None:
    commands, snap = healthy()
    snap.pipeline_owners["a"] = "south"
    assert failed(evaluate(commands, [], [], snap)) == ["pipeline account owners = collab's"]


def test_dead_letters_on_a_topic_or_in_a_table_fail() -> None:
    commands, snap = healthy()
    snap.dlq_messages["collab-timeline.dlq"] = 1
    assert failed(evaluate(commands, [], [], snap)) == ["nothing dead-lettered"]
    commands, snap = healthy()
    snap.dead_letter_rows["collab"] = 2
    assert failed(evaluate(commands, [], [], snap)) == ["nothing dead-lettered"]


def test_an_unpublished_event_or_lag_fails() -> None:
    commands, snap = healthy()
    snap.events["pipeline"][0] = event(
        "e1",
        "ActivityLogged",
        "c1",
        published=False,
        account_id="a",
        activity_id="act1",
        actor_region="east",
    )
    assert failed(evaluate(commands, [], [], snap)) == ["outbox empty (published_at IS NULL)"]
    commands, snap = healthy()
    snap.lag["collab-timeline"] = 3
    assert failed(evaluate(commands, [], [], snap)) == ["consumer lag"]


def test_a_fault_the_runtime_did_not_recover_from_fails() -> None:
    commands, snap = healthy()
    fault = FaultRecord("kill -9 broker", problems=["not restarted within 8s"])
    assert failed(evaluate(commands, [fault], [], snap)) == [
        "faults recovered by the runtime itself"
    ]


def test_a_resent_key_answered_differently_fails() -> None:
    commands, snap = healthy()
    first = commands[0]
    first.response = {"id": "opp-1"}
    resent = first.repeat()
    resent.status, resent.response = 200, {"id": "opp-2"}
    assert failed(evaluate([*commands, resent], [], [], snap)) == [
        "a resent Idempotency-Key gets the first answer"
    ]
    resent.response = {"id": "opp-1"}
    assert failed(evaluate([*commands, resent], [], [], snap)) == []
