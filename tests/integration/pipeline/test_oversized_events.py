"""An artifact too large to travel as one event is refused with a problem, never stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.pipeline_svc.bootstrap import create_app
from shared.store.postgres import MAX_EVENT_BYTES
from tests.integration.pipeline.conftest import Api
from tests.support import settings_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def roomy_api(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Api]:
    """The pipeline API with the default body limit (far above the event limit)."""
    settings = settings_for(database_url, kafka_bootstrap, mode="api")
    assert settings.max_body_bytes > 2 * MAX_EVENT_BYTES
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pipeline") as client:
            yield Api(client, app)


async def test_an_artifact_larger_than_an_event_may_be_is_refused_and_nothing_is_stored(
    roomy_api: Api,
) -> None:
    api = roomy_api
    opp = await api.open()
    before = await api.event_count()
    r = await api.client.post(
        f"/opportunities/{opp['id']}/artifacts",
        json={
            "kind": "decision_chain_map",
            # each field within the artifact rules, together more than one event may carry
            "fields": {"decision_maker": "COO Wang", "influencers": ["x" * 19_000] * 15},
        },
        headers=api.as_(),
    )
    assert r.status_code == 413, r.text
    assert r.json()["limit"] == MAX_EVENT_BYTES
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await api.event_count() == before
