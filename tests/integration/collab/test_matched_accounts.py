"""A synced contact that reached several accounts is judged against each of them."""

from __future__ import annotations

import pytest

from tests.integration.collab.conftest import Api
from tests.integration.collab.pipeline import Deal
from tests.support import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def regions(api: Api) -> None:
    await api.regions("east", "south")


async def conflicts_of(api: Api, activity_id: str) -> list[dict[str, object]]:
    rows = await api.ok("GET", "/conflicts", api.admin, params={"limit": 200})
    return [c for c in rows["items"] if c["activity_id"] == activity_id]


async def test_a_contact_matched_to_another_region_s_account_raises_a_conflict_there(
    api: Api,
) -> None:
    east = (await api.account("east", group_id="grp-m"))["account_id"]
    south = (await api.account("south"))["account_id"]
    deal = Deal(south, region="south", owner="rep-south")
    call = deal.activity(
        api.clock.now(), "rep-south", "south", source="phone_sync", matched_accounts=[east]
    )
    activity_id = call.event.activity_id  # type: ignore[attr-defined]
    await api.publish(call, call)  # delivered twice: still one conflict

    found = await eventually(lambda: conflicts_of(api, activity_id), timeout_s=60)
    assert [(c["account_id"], c["owning_region"], c["contact_region"]) for c in found] == [
        (east, "east", "south")
    ], "judged against the East account it reached, and not against its own South deal"
    assert found[0]["opportunity_id"] == deal.opportunity_id
    assert found[0]["group_id"] == "grp-m"
    assert await api.stream(f"conflict-{activity_id}:{east}") == ["CrossRegionConflictDetected"]
    assert await api.stream(f"conflict-{activity_id}") == []
