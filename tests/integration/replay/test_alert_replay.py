"""`sightline replay alert`: the member directory rebuilt from collab.events, latest assignment
by business time winning whatever the order on the topic; the pipeline group refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from services.alert_svc.bootstrap import MIGRATIONS
from services.alert_svc.entrypoints.consumers.replay import plan
from shared.clock import SystemClock
from shared.contracts.collab import MemberAssigned
from shared.db import make_engine, migrate
from shared.events.cloudevents import encode
from shared.events.envelope import Envelope, Metadata
from shared.events.registry import registry
from shared.messaging.kafka import ensure_topics
from shared.replay.rebuild import Rebuild
from shared.replay.spec import ReplayRefusedError
from tests.support import settings_for

pytestmark = pytest.mark.integration
T0 = datetime(2026, 9, 1, tzinfo=UTC)


def assigned(member: str, team: str, days: int) -> Envelope:
    event = MemberAssigned(
        occurred_at=T0 + timedelta(days=days),
        member_id=member,
        name=member,
        role="rep",
        region_id="east",
        team_id=team,
        actor_id="admin",
    )
    return Envelope(
        uuid.uuid4(), f"member-{member}", "member", 1, event, T0, member, Metadata(actor="admin")
    )


async def test_the_directory_is_rebuilt_with_each_members_latest_assignment(
    database_url: str, kafka_bootstrap: str
) -> None:
    settings = settings_for(database_url, kafka_bootstrap, service="alert")
    topic = settings.topic("collab")
    await ensure_topics(kafka_bootstrap, [topic], 3)
    # rep-2's later move arrives first: business time decides, as it does live
    sent = [assigned("rep-1", "east-1", 0), assigned("rep-2", "east-2", 5)]
    sent += [assigned("rep-2", "east-1", 1), assigned("rep-3", "east-3", 2)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for env in sent:
            rec = encode(env, "/sightline/collab")
            await producer.send_and_wait(topic, rec.value, key=rec.key, headers=rec.headers)
    finally:
        await producer.stop()
    engine = make_engine(database_url, pool_size=2)
    try:
        await migrate(engine, MIGRATIONS)
        alert_plan = plan(settings, registry, SystemClock())
        [directory] = alert_plan.select("alert-org")
        result = await Rebuild(engine, settings, registry, directory).run()
        async with engine.connect() as conn:
            rows = list(
                await conn.execute(text("SELECT member_id, team FROM alert_members ORDER BY 1"))
            )
    finally:
        await engine.dispose()
    assert result.counts.applied == 4
    assert [(r.member_id, r.team) for r in rows] == [
        ("rep-1", "east-1"),
        ("rep-2", "east-2"),
        ("rep-3", "east-3"),
    ]
    with pytest.raises(ReplayRefusedError, match="deadline timers"):
        alert_plan.select("alert-pipeline")
