"""Races between replicas and retries: playbook publication vs. advances, idempotent retries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from services.pipeline_svc.application import handlers as h
from services.pipeline_svc.application.uow import stream_id
from services.pipeline_svc.bootstrap import PipelineService
from services.pipeline_svc.domain.commands import AdvanceStage, LogActivity
from shared.clock import SystemClock
from shared.contracts.pipeline import StageAdvanced
from shared.errors import ConcurrencyError
from shared.events.envelope import Metadata, NewEvent
from shared.identity import Principal
from tests.integration.pipeline.conftest import Api
from tests.integration.pipeline.test_ownership import listed, transfer
from tests.support import migrated_engine

pytestmark = pytest.mark.integration
REP = Principal(sub="rep-1", role="rep", region="east", team="east-1")


def admin(api: Api) -> dict[str, str]:
    return api.as_(sub="admin", role="admin", region="hq", team="hq")


async def without(api: Api, stage: str) -> dict[str, Any]:
    definition = (await api.client.get("/playbook", headers=admin(api))).json()["definition"]
    return {**definition, "stages": [s for s in definition["stages"] if s["key"] != stage]}


async def deal_ready_to_leave_lead(api: Api) -> str:
    opp = await api.open()
    r = await api.client.post(
        f"/opportunities/{opp['id']}/activities", json={"kind": "call"}, headers=api.as_()
    )
    assert r.status_code == 200
    return str(opp["id"])


def replica(api: Api) -> PipelineService:
    """Another process of the service on the same database, with its own playbook cache."""
    main: PipelineService = api.app.state.pipeline
    return PipelineService(main.engine, main.clock)


async def test_a_replica_with_a_cached_playbook_cannot_advance_into_a_dropped_stage(
    api: Api,
) -> None:
    oid = await deal_ready_to_leave_lead(api)
    other = replica(api)
    async with other.uow() as uow:
        assert (await other.playbooks.current(uow)).version == 1  # cached for a while
    dropped = await api.client.put(
        "/playbook", json=await without(api, "initial_contact"), headers=admin(api)
    )
    assert dropped.status_code == 200, dropped.text

    async with other.uow() as uow:
        outcome = await h.advance_stage(AdvanceStage(oid), uow, other.context(REP), other.playbooks)
        await uow.commit()
    assert outcome.view["stage"] == "needs_confirmed", "the version in force decides the next stage"
    got = await api.client.get(f"/opportunities/{oid}", headers=api.as_())
    assert got.status_code == 200 and got.json()["stage"] == "needs_confirmed"


async def test_a_publication_waits_for_an_advance_under_way_and_sees_its_deal(api: Api) -> None:
    oid = await deal_ready_to_leave_lead(api)
    other = replica(api)
    body = await without(api, "initial_contact")
    async with other.uow() as uow:
        outcome = await h.advance_stage(AdvanceStage(oid), uow, other.context(REP), other.playbooks)
        assert outcome.view["stage"] == "initial_contact"
        publish = asyncio.create_task(api.client.put("/playbook", json=body, headers=admin(api)))
        await asyncio.sleep(0.3)  # give the publication every chance to overtake the advance
        await uow.commit()
    r = await publish
    assert r.status_code == 409, r.text
    assert r.json()["stages"] == ["initial_contact"], "the deal entered the stage it would drop"
    got = await api.client.get(f"/opportunities/{oid}", headers=api.as_())
    assert got.status_code == 200 and got.json()["stage"] == "initial_contact"


async def test_a_deal_in_a_stage_the_playbook_lacks_still_reads_and_says_so(api: Api) -> None:
    oid = await deal_ready_to_leave_lead(api)
    svc: PipelineService = api.app.state.pipeline
    legacy = StageAdvanced(
        occurred_at=datetime.now(UTC),
        opportunity_id=oid,
        account_id="acme-sh",
        from_stage="lead",
        to_stage="pilot",
        playbook_version=1,
        days_in_previous_stage=0.0,
    )
    async with svc.uow() as uow:  # as recorded before this version guarded stage moves
        await uow.events.append(stream_id(oid), "opportunity", 2, [NewEvent(legacy)], Metadata())
        await uow.commit()

    got = await api.client.get(f"/opportunities/{oid}", headers=api.as_())
    assert got.status_code == 200, got.text
    gate = got.json()["gate"]
    assert (got.json()["stage"], gate["stage_in_playbook"], gate["ready"]) == (
        "pilot",
        False,
        False,
    )
    assert "pilot" in gate["detail"]
    advance = await api.client.post(f"/opportunities/{oid}/advance", headers=api.as_())
    assert advance.status_code == 409
    assert advance.json()["type"].endswith("stage-not-in-playbook")
    call = await api.client.post(
        f"/opportunities/{oid}/activities", json={"kind": "call"}, headers=api.as_()
    )
    assert call.status_code == 200, call.text
    lost = await api.client.post(
        f"/opportunities/{oid}/close",
        json={"outcome": "lost", "reason": "pilot cancelled"},
        headers=api.as_(),
    )
    assert lost.status_code == 200 and lost.json()["status"] == "lost"


async def test_concurrent_retries_with_if_match_and_one_key_all_get_the_stored_answer(
    api: Api,
) -> None:
    opp = await api.open()
    before = await api.event_count()
    headers = {**api.as_(), "Idempotency-Key": "retry-with-if-match", "If-Match": '"1"'}
    url = f"/opportunities/{opp['id']}/activities"
    answers = await asyncio.gather(
        *(api.client.post(url, json={"kind": "call"}, headers=headers) for _ in range(8))
    )
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    assert all(a.json() == answers[0].json() for a in answers), "one stored answer for all"
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 7
    assert await api.event_count() == before + 1


async def test_a_retry_after_success_gets_the_stored_answer_despite_a_now_stale_if_match(
    api: Api,
) -> None:
    opp = await api.open()
    headers = {**api.as_(), "Idempotency-Key": "k-stale", "If-Match": '"1"'}
    url = f"/opportunities/{opp['id']}/activities"
    first = await api.client.post(url, json={"kind": "call"}, headers=headers)
    again = await api.client.post(url, json={"kind": "call"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("deferred", [False, True], ids=["in-a-transaction", "deferred"])
async def test_a_transfer_between_a_command_s_read_and_its_append_refuses_the_append(
    api: Api, deferred: bool
) -> None:
    """The command read the owner without a lock; its append checks the owner again under one.
    The transfer wins: the append is a clash (the route retries it), nothing of it is kept, and
    the deal's list row follows the new owner."""
    opp = await api.open(account_id="acme-mid")
    svc: PipelineService = api.app.state.pipeline
    async with svc.deferred_uow() if deferred else svc.uow() as uow:
        deal = await h.load(uow, opp["id"])
        assert deal.region == "east"
        # the transfer commits between the read and the write: no lock of the read holds it
        await asyncio.wait_for(api.feed(transfer("acme-mid"), "acme-mid"), 10)
        cmd = LogActivity(opportunity_id=opp["id"], activity_id="a-mid", kind="call")
        pb = await svc.playbooks.current(uow)
        events = deal.log_activity(cmd, pb.definition, REP, svc.clock.now())
        with pytest.raises(ConcurrencyError):
            await h.record(uow, deal, events, svc.context(REP), pb)
    async with svc.uow() as uow:
        assert [e.version for e in await uow.events.load(stream_id(opp["id"]))] == [1]
    south = {"sub": "rm-s", "role": "regional_manager", "region": "south", "team": "s-1"}
    assert [(o["id"], o["region"], o["version"]) for o in await listed(api, south)] == [
        (opp["id"], "south", 1)
    ]


async def test_a_transfer_waits_for_a_command_that_appended_in_its_transaction(api: Api) -> None:
    """The append's guard holds the account's row until the command commits: a transfer that
    comes in meanwhile waits, then moves the list row the command wrote."""
    opp = await api.open(account_id="acme-mid")
    svc: PipelineService = api.app.state.pipeline
    async with svc.uow() as uow:
        deal = await h.load(uow, opp["id"])
        cmd = LogActivity(opportunity_id=opp["id"], activity_id="a-mid", kind="call")
        pb = await svc.playbooks.current(uow)
        events = deal.log_activity(cmd, pb.definition, REP, svc.clock.now())
        await h.record(uow, deal, events, svc.context(REP), pb)
        moving = asyncio.create_task(api.feed(transfer("acme-mid"), "acme-mid"))
        await asyncio.sleep(0.3)  # give the transfer every chance to overtake the command
        assert not moving.done()
        await uow.commit()
    await asyncio.wait_for(moving, 10)
    south = {"sub": "rm-s", "role": "regional_manager", "region": "south", "team": "s-1"}
    assert [(o["id"], o["region"], o["version"]) for o in await listed(api, south)] == [
        (opp["id"], "south", 2)
    ]


async def test_processes_starting_together_seed_the_default_playbook_once(
    database_url: str,
) -> None:
    """`sightline up` starts a service's api and worker at once; both seed at start-up."""
    engine = await migrated_engine(database_url)
    try:
        starting = [PipelineService(engine, SystemClock()) for _ in range(3)]
        await asyncio.gather(*(svc.seed() for svc in starting))
        async with engine.connect() as conn:
            published = await conn.scalar(
                text("SELECT count(*) FROM events WHERE event_name = 'PlaybookPublished'")
            )
    finally:
        await engine.dispose()
    assert published == 1
