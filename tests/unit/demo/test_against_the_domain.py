"""The plan played through the services' own domain code and request schemas: every advance
the plan expects to pass passes the real gate, every one it expects blocked is blocked, and
every body is one the API accepts."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from services.collab_svc.domain import commands as cc
from services.collab_svc.domain.contact_request import ContactRequest, request_contact
from services.collab_svc.entrypoints.api import schemas as cs
from services.pipeline_svc.domain import commands as pc
from services.pipeline_svc.domain.opportunity import Opportunity, open_opportunity
from services.pipeline_svc.domain.playbook import default_playbook
from services.pipeline_svc.entrypoints.api import schemas as ps
from services.pipeline_svc.entrypoints.api.ingest import IngestBatch
from shared.demo.generator import streams
from shared.demo.plan import Command, Plan
from shared.events.base import DomainEvent
from shared.identity import Principal

SCHEMAS: list[tuple[str, type[BaseModel]]] = [
    (r"^/ingest/activities$", IngestBatch),
    (r"^/opportunities$", ps.OpportunityCreate),
    (r"/activities$", ps.ActivityCreate),
    (r"/artifacts$", ps.ArtifactCreate),
    (r"/stakeholders$", ps.StakeholderCreate),
    (r"/advance$", ps.AdvanceRequest),
    (r"/close$", ps.CloseRequest),
    (r"^/org/regions$", cs.RegionCreate),
    (r"^/org/teams$", cs.TeamCreate),
    (r"^/org/members$", cs.MemberCreate),
    (r"^/accounts$", cs.AccountCreate),
    (r"/contact-requests$", cs.ContactRequestCreate),
    (r"/approve$", cs.ContactApproval),
    (r"/reject$", cs.ContactRejection),
]


def _schema(path: str) -> type[BaseModel]:
    return next(model for pattern, model in SCHEMAS if re.search(pattern, path))


@pytest.mark.parametrize("profile", ["before", "after"])
def test_every_body_is_one_the_api_accepts(small_plans: dict[str, Plan], profile: str) -> None:
    for c in small_plans[profile].commands:
        _schema(c.path).model_validate(c.body)


class Player:
    """Plays one deal's commands through the opportunity aggregate at their business time."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.playbook = default_playbook()
        self.opp = Opportunity("o-1")

    def actor(self, c: Command) -> Principal:
        m = self.plan.members[c.actor]
        return Principal(sub=m.member_id, role=m.role, region=m.region, team=m.team)

    def decide(self, c: Command) -> list[DomainEvent]:
        b, at, pb, opp = c.body, c.at, self.playbook, self.opp
        if c.path == "/opportunities":
            cmd = pc.OpenOpportunity(
                "o-1", b["account_id"], b["title"], b["owner_id"], b["region"], b["team"],
                Decimal(b["amount"]), "CNY", date.fromisoformat(b["expected_close_date"]),
                occurred_at=at,
            )  # fmt: skip
            return [open_opportunity(cmd, 1, at)]
        if c.path.endswith("/ingest/activities"):
            log = b["logs"][0]
            who = Principal(log["actor_id"], "rep", log["actor_region"], "")
            act = pc.LogActivity("o-1", str(uuid.uuid4()), "email", at, source="email_sync")
            return opp.log_activity(act, pb, who, at)
        actor = self.actor(c)
        if c.path.endswith("/activities"):
            act = pc.LogActivity(
                "o-1", str(uuid.uuid4()), b["kind"], at, next_step=b.get("next_step")
            )
            return opp.log_activity(act, pb, actor, at)
        if c.path.endswith("/artifacts"):
            art = pc.SubmitArtifact("o-1", str(uuid.uuid4()), b["kind"], b["fields"], at)
            return opp.submit_artifact(art, pb, actor, at)
        if c.path.endswith("/stakeholders"):
            who_ = pc.MapStakeholder(
                "o-1", str(uuid.uuid4()), b["name"], b["role"], email=b["email"]
            )
            return opp.map_stakeholder(who_, pb, actor, at)
        if c.path.endswith("/advance"):
            return opp.advance(pc.AdvanceStage("o-1", b["to_stage"]), pb, 1, actor, at)
        close = pc.CloseOpportunity("o-1", b["outcome"], b["reason"])
        return opp.close(close, pb, 1, actor, at)

    def play(self, c: Command) -> list[DomainEvent]:
        events = self.decide(c)
        for e in events:
            self.opp.apply(e)
        return events


@pytest.mark.parametrize("profile", ["before", "after"])
def test_the_real_gates_pass_and_block_exactly_where_the_plan_says(
    small_plans: dict[str, Plan], profile: str
) -> None:
    plan = small_plans[profile]
    seen: dict[str, int] = {}
    for name, cmds in streams(plan.commands).items():
        if not name.startswith("deal-"):
            continue
        player = Player(plan)
        for c in cmds:
            events = player.play(c)
            assert [e.event_name for e in events] == [c.records], (name, c.path, c.body)
            assert (c.expect == 409) == (c.records == "StageAdvanceBlocked")
            seen[c.records] = seen.get(c.records, 0) + 1
    assert seen["StageAdvanced"] > 0
    assert seen["StageAdvanceBlocked"] > 0
    assert seen["OpportunityWon"] > 0


def test_contact_requests_pass_the_collaboration_domain(small_plans: dict[str, Plan]) -> None:
    plan = small_plans["after"]
    owners = {a.account_id: a.region for a in plan.accounts}
    decided = 0
    for name, cmds in streams(plan.commands).items():
        if not name.startswith("contact-request-"):
            continue
        ask, *answers = cmds
        m = plan.members[ask.actor]
        requester = Principal(m.member_id, m.role, m.region, m.team)
        account = ask.path.split("/")[2]
        window = (
            datetime.fromisoformat(ask.body["window_start"]),
            datetime.fromisoformat(ask.body["window_end"]),
        )
        cmd = cc.RequestContact(name, account, ask.body["purpose"], *window)
        req = ContactRequest(name)
        req.apply(request_contact(cmd, owners[account], requester, ask.at))
        for answer in answers:
            a = plan.members[answer.actor]
            approver = Principal(a.member_id, a.role, a.region, a.team)
            assert approver.region == owners[account] != requester.region
            events: list[Any] = (
                req.approve(cc.ApproveContact(name), owners[account], approver, answer.at)
                if answer.path.endswith("/approve")
                else req.reject(cc.RejectContact(name, "no"), owners[account], approver, answer.at)
            )
            assert [e.event_name for e in events] == [answer.records]
            decided += 1
    assert decided > 0
