"""`sightline replay`'s pure parts: choosing projections, refusals, schema names, `--as-of`,
decoding a batch, the report, and each service's plan against the groups it runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from aiokafka import ConsumerRecord
from rich.console import Console
from typer.testing import CliRunner

import shared.contracts  # noqa: F401 - registers the event catalogue
from shared.cli import app
from shared.clock import SystemClock
from shared.db import make_engine
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope
from shared.events.registry import registry
from shared.replay.applier import Applier, Counts, ReplayError
from shared.replay.progress import Lines
from shared.replay.rebuild import ReplayResult
from shared.replay.spec import (
    Projection,
    Refusal,
    ReplayGroup,
    ReplayPlan,
    ReplayRefusedError,
    UnknownConsumerError,
    schema_kind,
    schema_name,
)
from shared.replay.workers import share
from shared.replay_cli import parse_as_of, report
from shared.settings import Settings
from tests.support import envelope

TZ = ZoneInfo("Asia/Shanghai")


async def nothing(conn: Any, env: Envelope) -> None:
    pass


def group(name: str, *topics: str, events: tuple[str, ...] = ("ActivityLogged",)) -> ReplayGroup:
    return ReplayGroup(name, topics or ("p.pipeline.events",), dict.fromkeys(events, nothing))


PLAN = ReplayPlan(
    "svc",
    (
        Projection("facts", ("facts",), (group("svc-a"), group("svc-b"))),
        Projection("other", ("other",), (group("svc-c"),)),
    ),
    (Refusal("svc-policy", "it appends events"),),
)


def test_no_consumer_selects_every_projection_a_group_or_name_selects_its_own() -> None:
    assert [p.name for p in PLAN.select(None)] == ["facts", "other"]
    assert [p.name for p in PLAN.select("svc-b")] == ["facts"], "tables shared by two groups"
    assert [p.name for p in PLAN.select("other")] == ["other"]
    assert PLAN.groups == ("svc-a", "svc-b", "svc-c", "svc-policy")


def test_a_refused_group_is_named_with_its_reason_and_an_unknown_one_lists_the_groups() -> None:
    with pytest.raises(ReplayRefusedError, match="svc-policy cannot be replayed: it appends"):
        PLAN.select("svc-policy")
    with pytest.raises(UnknownConsumerError, match="svc-a, svc-b, svc-c, svc-policy"):
        PLAN.select("svc-x")
    with pytest.raises(ReplayRefusedError, match="no projection"):
        ReplayPlan("p", (), (Refusal("p-x", "why"),)).select(None)


def test_schema_names_are_safe_identifiers_recognised_only_for_their_projection() -> None:
    name = schema_name("archive", "collab_timeline", "20261127t101500123456")
    assert name == "archive_collab_timeline_20261127t101500123456"
    assert schema_kind(name, "collab_timeline") == "archive"
    assert (
        schema_kind(schema_name("asof", "scoring_facts", "20261127t101500123456"), "scoring_facts")
        == "asof"
    )
    assert schema_kind(name, "collab") is None
    assert schema_kind("archive_collab_timeline_notes", "collab_timeline") is None
    assert schema_kind("public", "collab_timeline") is None
    assert (
        schema_name("replay", "Odd-Name.x", "20261127t101500")
        == "replay_odd_name_x_20261127t101500"
    )


def test_as_of_keeps_an_offset_and_reads_a_bare_value_in_the_organisation_time_zone() -> None:
    assert parse_as_of("2026-10-01T00:00:00+00:00", TZ) == datetime(2026, 10, 1, tzinfo=UTC)
    assert parse_as_of("2026-10-01", TZ) == datetime(2026, 10, 1, tzinfo=TZ)
    assert parse_as_of("2026-10-01T08:30", TZ) == datetime(2026, 10, 1, 8, 30, tzinfo=TZ)
    with pytest.raises(typer.BadParameter, match="ISO 8601"):
        parse_as_of("last tuesday", TZ)


def record(topic: str, value: bytes, headers: list[tuple[str, bytes]]) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(topic, 0, 7, 0, 0, b"k", value, None, len(value), 0, tuple(headers))


def as_record(env: Envelope, topic: str = "p.pipeline.events") -> ConsumerRecord[Any, Any]:
    rec = encode(env, "/sightline/pipeline")
    return record(topic, rec.value, rec.headers)


def test_decoding_keeps_what_the_groups_handle_before_as_of_and_counts_the_rest() -> None:
    plan = Projection(
        "facts",
        ("facts",),
        (group("svc-a"), group("svc-b", events=("OpportunityWon",))),
    )
    applier = Applier(plan, registry, "replay_x", "p.", as_of=datetime(2026, 10, 1, tzinfo=UTC))
    early, late = (
        envelope(account="a-1", at=datetime(2026, 9, 1, tzinfo=UTC)),
        envelope(account="a-1", at=datetime(2026, 10, 2, tzinfo=UTC)),
    )
    garbage = record(
        "p.pipeline.events", b"{", [("ce_type", b"sightline.pipeline.ActivityLogged.v1")]
    )
    other_topic = as_record(
        envelope(account="a-1", at=datetime(2026, 9, 1, tzinfo=UTC)), "p.collab.events"
    )

    items = applier.decode([as_record(early), as_record(late), garbage, other_topic])

    assert [(i.consumer, i.envelope.event_id) for i in items] == [("p.svc-a", early.event_id)]
    c = applier.counts
    assert (c.read, c.later, c.unreadable, c.ignored) == (4, 1, 1, 1)


def test_an_event_newer_than_this_installation_stops_the_replay() -> None:
    applier = Applier(Projection("f", ("f",), (group("svc-a"),)), registry, "replay_x", "")
    rec = encode(
        envelope(account="a-1", at=datetime(2026, 9, 1, tzinfo=UTC)), "/sightline/pipeline"
    )
    headers = [
        (k, b"sightline.pipeline.ActivityLogged.v9" if k == "ce_type" else v)
        for k, v in rec.headers
    ]
    with pytest.raises(ReplayError, match="ActivityLogged v9, newer than this installation"):
        applier.decode([record("p.pipeline.events", rec.value, headers)])


def test_the_report_says_the_rate_the_rows_and_where_the_tables_are() -> None:
    counts = Counts(read=1000, applied=990, duplicates=10)
    swapped = ReplayResult(
        "scoring",
        "facts",
        "public",
        "archive_scoring_facts_1",
        None,
        counts,
        2.0,
        {"scoring_facts": 990},
        {"scoring_facts": 985},
        ["archive_scoring_facts_0"],
    )
    lines = report(swapped)
    assert lines[0].startswith("scoring/facts: 1,000 events in 2.0 s (500 events/s): 990 applied")
    assert "  public.scoring_facts: 990 rows (was 985)" in lines
    assert any("archive_scoring_facts_1" in line and "rollback" in line for line in lines)
    assert "  dropped archive_scoring_facts_0" in lines
    as_of = datetime(2026, 10, 1, tzinfo=UTC)
    kept = ReplayResult(
        "scoring", "facts", "asof_x", None, as_of, counts, 1.0, {"scoring_facts": 5}
    )
    lines = report(kept)
    assert "  asof_x.scoring_facts: 5 rows" in lines
    assert any("not swapped in" in line and "untouched" in line for line in lines)


def test_partitions_are_shared_out_by_backlog_and_empty_ones_left_out() -> None:
    from aiokafka import TopicPartition

    tp = [TopicPartition("t", p) for p in range(5)]
    starts = {tp[0]: 0, tp[1]: 0, tp[2]: 10, tp[3]: 0, tp[4]: 7}
    ends = {tp[0]: 100, tp[1]: 60, tp[2]: 50, tp[3]: 30, tp[4]: 7}
    shares = share(starts, ends, 2)
    # backlogs 100, 60, 40, 30: each to the least loaded share so far
    assert [sorted(p.partition for p in s) for s, _ in shares] == [[0, 3], [1, 2]]
    assert shares[1] == ({tp[1]: 0, tp[2]: 10}, {tp[1]: 60, tp[2]: 50})
    assert len(share(starts, ends, 8)) == 4, "no worker for an empty partition"
    assert share(starts, {tp[4]: 7}, 2) == []


def test_without_a_terminal_progress_is_a_line_every_few_seconds() -> None:
    console = Console(record=True, width=200)
    lines = Lines(console, every_s=3600)
    lines.begin("scoring/facts", 10_000)
    for _ in range(10):
        lines.advance(1000)
    lines.phase("swapping")
    assert console.export_text().splitlines() == [
        "scoring/facts: 10,000 events to read",
        "scoring/facts: swapping",
    ]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["collab", "--consumer", "collab-conflicts"], "policy, not a projection"),
        (["alert", "--consumer", "alert-pipeline"], "deadline timers"),
        (["alert", "--consumer", "alert-webhooks"], "send them again"),
        (["pipeline"], "contact_points"),
        (["scoring", "--consumer", "scoring-nothing"], "scoring-pipeline, scoring-collab"),
    ],
)
def test_the_command_refuses_with_a_reason_and_a_non_zero_exit(args: list[str], said: str) -> None:
    result = CliRunner().invoke(app, ["replay", *args])
    assert result.exit_code == 2
    assert said in result.output.replace("\n", " ")


def runner_topics(service: str, settings: Settings) -> dict[str, set[str]]:
    """The consumer groups the service runs and the topics each consumes, as its composition
    root builds them."""
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")  # never connected
    if service == "scoring":
        from services.scoring_svc.entrypoints.consumers import runners as scoring

        built = scoring.build(engine, settings, registry)
    elif service == "collab":
        from services.collab_svc.entrypoints.consumers import runners as collab

        built = collab.build(engine, settings, registry, SystemClock())
    elif service == "alert":
        from services.alert_svc.entrypoints.consumers import runners as alert
        from services.alert_svc.webhooks.bootstrap import WebhookService

        webhooks = WebhookService(engine, settings, SystemClock(), registry).dispatcher()
        built = [*alert.build(engine, settings, registry, SystemClock()), webhooks]
    else:
        # pipeline's one runner is built inside its app's lifespan, out of reach here
        from services.pipeline_svc.adapters.collab import COLLAB_GROUP

        return {settings.topic_prefix + COLLAB_GROUP: {settings.topic("collab")}}
    return {r.group_id: set(r.topics) for r in built}


@pytest.mark.parametrize("service", ["scoring", "collab", "alert", "pipeline"])
def test_every_consumer_group_of_a_service_is_either_replayable_or_refused(service: str) -> None:
    from shared.replay_cli import load_plan

    settings = Settings.model_validate({"service": service, "topic_prefix": "t."})
    plan = load_plan(settings)
    runners = runner_topics(service, settings)
    assert {settings.topic_prefix + g for g in plan.groups} == set(runners)
    for projection in plan.projections:
        for g in projection.groups:
            assert set(g.topics) == runners[settings.topic_prefix + g.group], g.group
            assert set(g.topics) <= {settings.topic(d) for d in ("pipeline", "collab", "scoring")}
