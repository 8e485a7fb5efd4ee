"""The snapshot cache over PostgreSQL: another replica's appends are folded in, never missed."""

from __future__ import annotations

import pytest

from services.pipeline_svc.application import handlers as h
from services.pipeline_svc.application.uow import stream_id
from services.pipeline_svc.bootstrap import PipelineService
from services.pipeline_svc.domain.commands import LogActivity
from services.pipeline_svc.domain.opportunity import Opportunity
from shared.identity import Principal
from tests.integration.pipeline.conftest import Api

pytestmark = pytest.mark.integration
REP = Principal(sub="rep-1", role="rep", region="east", team="east-1")


async def test_a_deal_another_replica_moved_on_is_read_with_its_new_events(api: Api) -> None:
    main: PipelineService = api.app.state.pipeline
    opp = await api.open()
    oid = str(opp["id"])
    first = await api.client.post(
        f"/opportunities/{oid}/activities", json={"kind": "call"}, headers=api.as_()
    )
    assert first.status_code == 200, first.text
    cached = main.snapshots.get(stream_id(oid))
    assert cached is not None and cached.version == 2

    other = PipelineService(main.engine, main.clock)
    async with other.uow() as uow:
        cmd = LogActivity(oid, "act-from-the-other-replica", "visit", next_step="quote")
        await h.log_activity(cmd, uow, other.context(REP), other.playbooks)
        await uow.commit()

    got = await api.client.get(f"/opportunities/{oid}", headers=api.as_())
    assert got.status_code == 200
    assert (got.json()["version"], got.json()["activity_count"]) == (3, 2)
    # a decision on the deal is taken on version 3, not on the cached version 2
    again = await api.client.post(
        f"/opportunities/{oid}/activities",
        json={"kind": "email"},
        headers={**api.as_(), "If-Match": '"3"'},
    )
    assert again.status_code == 200, again.text
    assert (again.json()["version"], again.json()["activity_count"]) == (4, 3)
    cached = main.snapshots.get(stream_id(oid))
    assert cached is not None and cached.version == 4


async def test_the_cached_fold_equals_the_fold_of_the_stored_stream(api: Api) -> None:
    main: PipelineService = api.app.state.pipeline
    opp = await api.open()
    oid = str(opp["id"])
    for kind in ("call", "email", "visit", "call"):
        r = await api.client.post(
            f"/opportunities/{oid}/activities", json={"kind": kind}, headers=api.as_()
        )
        assert r.status_code == 200, r.text

    async with main.uow() as uow:
        stored = await uow.events.load(stream_id(oid))
    cached = main.snapshots.get(stream_id(oid))

    assert cached is not None
    assert cached.state == Opportunity.fold(oid, [e.event for e in stored])


async def test_a_rolled_back_command_leaves_no_snapshot_behind(api: Api) -> None:
    main: PipelineService = api.app.state.pipeline
    opp = await api.open()
    oid = str(opp["id"])
    before = main.snapshots.get(stream_id(oid))

    async with main.uow() as uow:
        cmd = LogActivity(oid, "act-never-committed", "call")
        await h.log_activity(cmd, uow, main.context(REP), main.playbooks)
        # leaving without commit rolls back

    after = main.snapshots.get(stream_id(oid))
    assert (after.version if after else None) == (before.version if before else None)
    got = await api.client.get(f"/opportunities/{oid}", headers=api.as_())
    assert got.json()["activity_count"] == 0
