"""Snapshots of the opportunity fold: a snapshot plus the events after it is the full fold."""

from __future__ import annotations

import pickle
import tracemalloc
from dataclasses import dataclass, fields

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.pipeline_svc.application.uow import resident_bytes, snapshot_cache
from services.pipeline_svc.domain.opportunity import SNAPSHOT_SCHEMA, Opportunity
from shared.contracts import pipeline as ev
from shared.errors import SightlineError
from shared.identity import Principal
from shared.store.snapshots import ENTRY_OVERHEAD, SnapshotCache, shape_tag
from tests.unit.pipeline.builders import PLAYBOOK, REP, Deal, new_deal

OUTSIDER = Principal(sub="rep-south-1", role="rep", region="south", team="south-a")
KINDS = [a.key for a in PLAYBOOK.activity_kinds]
ARTIFACTS = [a.key for a in PLAYBOOK.artifact_kinds]
ROLES = [r.key for r in PLAYBOOK.stakeholder_roles]

step = st.one_of(
    st.tuples(
        st.just("log"),
        st.sampled_from(KINDS),
        st.sampled_from([None, "", "  ", "send the proposal"]),
        st.booleans(),
    ),
    st.tuples(st.just("submit"), st.sampled_from(ARTIFACTS)),
    st.tuples(st.just("map"), st.sampled_from(ROLES), st.integers(0, 3)),
    st.tuples(
        st.just("complete"),
    ),
    st.tuples(
        st.just("advance"),
    ),
    st.tuples(st.just("reassign"), st.sampled_from(["rep-east-2", "rep-east-3"])),
    st.tuples(st.just("close"), st.sampled_from(["won", "lost"])),
)


def play(steps: list[tuple[object, ...]]) -> Deal:
    """A deal driven by the steps; a step the deal refuses (closed, last stage...) is skipped."""
    deal = new_deal()
    for name, *args in steps:
        deal.later(hours=5)
        try:
            if name == "log":
                kind, next_step, outsider = args
                deal.actor = OUTSIDER if outsider else REP
                deal.log(str(kind), next_step=next_step)  # type: ignore[arg-type]
                deal.actor = REP
            elif name == "submit":
                deal.submit(str(args[0]))
            elif name == "map":
                deal.map(str(args[0]), stakeholder_id=f"sh-{args[1]}")
            elif name == "complete":
                deal.complete_stage()
            elif name == "advance":
                deal.advance()
            elif name == "reassign":
                deal.reassign(str(args[0]))
            elif name == "close":
                deal.close(str(args[0]), "decided")
        except SightlineError:
            continue
    return deal


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=40), st.data())
def test_a_snapshot_plus_the_tail_folds_to_the_full_fold(
    steps: list[tuple[object, ...]], data: st.DataObject
) -> None:
    deal = play(steps)
    events = deal.events
    split = data.draw(st.integers(0, len(events)))
    cache = snapshot_cache(1 << 20)
    prefix = Opportunity.fold(deal.opportunity_id, events[:split])
    cache.put("s", prefix.version, prefix)

    snap = cache.get("s")
    assert snap is not None and snap.version == split
    resumed = snap.state
    for e in events[split:]:
        resumed.apply(e)

    assert resumed == Opportunity.fold(deal.opportunity_id, events)


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=40))
def test_the_fold_keeps_every_fact_a_gate_asks_of_activities(
    steps: list[tuple[object, ...]],
) -> None:
    deal = play(steps)
    opp = deal.opp
    logged = [e for e in deal.events if isinstance(e, ev.ActivityLogged)]

    expected = {
        (
            e.kind,
            e.stage,
            not e.actor_region or e.actor_region == (e.owning_region or REP.region),
            bool((e.next_step or "").strip()),
        )
        for e in logged
    }
    assert opp.activity_count == len(logged)
    assert {a.gate_facts for a in opp.activities} == expected
    assert len(opp.activities) == len(expected), "one record per distinct set of facts"


def test_a_thousand_calls_keep_the_fold_small() -> None:
    deal = new_deal()
    for _ in range(1000):
        deal.later(minutes=1).log("call", next_step="call again")

    opp = deal.opp

    assert opp.activity_count == 1000
    assert len(opp.activities) == 1
    assert len(pickle.dumps(opp)) < 4096


def test_a_snapshot_of_another_shape_is_dropped() -> None:
    cache = snapshot_cache(1 << 20)
    deal = new_deal()
    deal.log("call")
    cache.put_tagged("s", shape_tag(Opportunity, SNAPSHOT_SCHEMA - 1), 2, deal.opp)

    assert cache.get("s") is None
    assert len(cache) == 0 and cache.size_bytes == 0


def test_the_tag_follows_the_fields_of_the_aggregate() -> None:
    @dataclass
    class Older:
        opportunity_id: str

    @dataclass
    class Newer:
        opportunity_id: str
        activity_count: int = 0

    Newer.__qualname__ = Older.__qualname__
    assert shape_tag(Older, 1) != shape_tag(Newer, 1)
    assert shape_tag(Older, 1) != shape_tag(Older, 2)


def test_every_load_gets_its_own_copy() -> None:
    cache = snapshot_cache(1 << 20)
    opp = new_deal().opp
    cache.put("s", opp.version, opp)

    first = cache.get("s")
    assert first is not None
    first.state.stage = "closing"

    again = cache.get("s")
    assert again is not None and again.state.stage == "lead"


def test_an_adopted_state_is_kept_as_handed_over_and_loads_still_get_copies() -> None:
    cache = snapshot_cache(1 << 20)
    opp = new_deal().opp
    cache.put("s", opp.version, opp, adopt=True)

    first = cache.get("s")
    assert first is not None and first.state is not opp
    first.state.stage = "closing"
    opp.stage = "negotiation"  # what a unit of work may no longer do once it has committed

    again = cache.get("s")
    assert again is not None and again.state.stage == "negotiation"


def test_an_older_snapshot_never_replaces_a_newer_one() -> None:
    cache = snapshot_cache(1 << 20)
    deal = new_deal()
    v1 = deal.opp
    deal.log("call")
    v2 = deal.opp
    cache.put("s", v2.version, v2)
    cache.put("s", v1.version, v1)

    got = cache.get("s")
    assert got is not None and got.version == 2


def test_the_cache_stays_within_its_byte_budget_least_recently_used_first() -> None:
    opp = new_deal().opp
    one = resident_bytes(opp) + ENTRY_OVERHEAD
    cache = snapshot_cache(3 * one)
    for name in ("a", "b", "c"):
        cache.put(name, 1, opp)
    assert cache.get("a") is not None  # "b" is now the least recently used

    cache.put("d", 1, opp)

    assert cache.size_bytes <= 3 * one
    assert [n for n in "abcd" if cache.get(n) is not None] == ["a", "c", "d"]


def test_a_state_larger_than_the_budget_is_not_kept() -> None:
    cache = snapshot_cache(100)
    cache.put("s", 1, new_deal().opp)

    assert cache.get("s") is None and cache.size_bytes == 0


def rich_deal() -> Opportunity:
    """A deal with records of every kind: activities, artifacts and stakeholders."""
    deal = new_deal()
    for kind in KINDS:
        deal.later(hours=1).log(kind, next_step="call again")
        deal.later(hours=1).log(kind)
    for kind in ARTIFACTS:
        deal.submit(kind)
    for i, role in enumerate(ROLES):
        deal.map(role, stakeholder_id=f"sh-{i}")
    opp = deal.opp
    assert opp.activities and opp.artifacts and opp.stakeholders
    return opp


def test_a_copy_shares_no_container_with_its_original() -> None:
    opp = rich_deal()
    twin = opp.copy()

    assert twin == opp
    for f in fields(Opportunity):
        value = getattr(opp, f.name)
        if isinstance(value, list | dict | set):  # a field added later is held to it too
            assert getattr(twin, f.name) is not value, f.name


def test_neither_a_load_nor_the_writer_can_change_what_the_cache_holds() -> None:
    cache = snapshot_cache(1 << 20)
    opp = rich_deal()
    before = opp.copy()
    cache.put("s", opp.version, opp)
    opp.activities.clear()  # the writer's object after the put
    opp.stakeholders.clear()

    got = cache.get("s")
    assert got is not None
    got.state.activities.append(got.state.activities[0])
    got.state.artifacts.clear()
    got.state.stakeholders["sh-x"] = ("someone", "user")
    got.state.stage = "closing"

    again = cache.get("s")
    assert again is not None and again.state == before


def measured_bytes(opp: Opportunity, copies: int = 200) -> float:
    """Resident bytes per independent copy of the deal, as tracemalloc counts them."""
    data = pickle.dumps(opp)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        kept = [pickle.loads(data) for _ in range(copies)]
        used = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert len(kept) == copies
    return used / copies


@pytest.mark.parametrize("shape", ["fresh", "one activity", "rich"])
def test_the_weight_of_a_deal_is_close_to_what_it_holds_in_memory(shape: str) -> None:
    if shape == "fresh":
        opp = new_deal().opp
    elif shape == "one activity":
        deal = new_deal()
        deal.log("call")
        opp = deal.opp
    else:
        opp = rich_deal()

    ratio = resident_bytes(opp) / measured_bytes(opp)

    assert 0.67 <= ratio <= 1.5, f"estimate {resident_bytes(opp)} vs measured {ratio}"


@dataclass
class Folded:
    items: list[int]


def test_the_generic_cache_copies_and_weighs_by_pickling() -> None:
    cache = SnapshotCache[Folded]("Folded:1", 1 << 10)
    state = Folded([1, 2])
    cache.put("s", 2, state)
    state.items.append(3)

    got = cache.get("s")
    assert got is not None and got.state == Folded([1, 2])
    assert cache.size_bytes == len(pickle.dumps(Folded([1, 2]), protocol=5)) + ENTRY_OVERHEAD
