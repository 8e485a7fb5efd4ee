"""One deal's life as REST commands: captured, contacted, worked stage by stage through the
playbook's gates (sometimes knocking too early), then won, lost, or still open at 'now'."""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.contracts.playbook import ArtifactRequirement, PlaybookDefinition
from shared.demo.gate import COMPLETE, GateState, fields_for, missing, next_stage, requirements
from shared.demo.plan import REF, Account, Command, DealRecord, Member
from shared.demo.profiles import CONFIRMATION_STAGE, Profile
from shared.demo.stay import StayPlanner, Step, days

STEP = timedelta(minutes=7)
FIRST_CONTACT_ROLES = ("user", "technical_evaluator", "champion")
PRODUCTS = ("CNC lines", "MES rollout", "imaging suite", "fleet telematics", "ERP upgrade")
LOSS_REASONS = ("budget frozen", "lost to competitor", "project cancelled", "no decision")


class StoryEndError(Exception):
    """The deal's story reached 'now' (still open) or its close."""


class DealSim:
    def __init__(
        self,
        key: str,
        account: Account,
        owner: Member,
        opened_at: datetime,
        now: datetime,
        profile: Profile,
        playbook: PlaybookDefinition,
        rng: random.Random,
    ) -> None:
        self.key, self.account, self.owner = key, account, owner
        self.now, self.profile, self.playbook, self.rng = now, profile, playbook, rng
        self.record = DealRecord(
            key, account.account_id, owner.member_id, owner.region, owner.team, opened_at
        )
        self.state = GateState(playbook.stages[0].key)
        self.commands: list[Command] = []
        self.last = opened_at - STEP
        self.serial = 0
        self.plan = StayPlanner(rng, profile, playbook, self.state)

    # --- emitting commands ---

    def _emit(
        self, at: datetime, path: str, body: dict[str, Any], records: str, expect: int
    ) -> None:
        at = max(at, self.last + STEP)
        if at >= self.now:
            raise StoryEndError
        self.last = at
        body = {**body, "occurred_at": at.isoformat()}
        self.commands.append(
            Command(
                at,
                "deals",
                f"deal-{self.key}",
                "pipeline",
                path,
                body,
                self.owner.member_id,
                records,
                expect,
                creates=self.key if path == "/opportunities" else None,
                ref=None if path == "/opportunities" else self.key,
            )
        )

    def _path(self, tail: str) -> str:
        return f"/opportunities/{REF}/{tail}"

    def activity(self, at: datetime, kind: str, next_step: bool) -> None:
        body: dict[str, Any] = {"kind": kind, "summary": f"{kind} with {self.account.name}"}
        if next_step:
            body["next_step"] = "agree the next meeting and who attends"
        self._emit(at, self._path("activities"), body, "ActivityLogged", 200)
        self.state.log(kind, next_step)
        facing = (a for a in self.playbook.activity_kinds if a.key == kind)
        if self.record.first_response_at is None and next(facing).customer_facing:
            self.record.first_response_at = self.last

    def artifact(self, at: datetime, kind_key: str, optional: set[str]) -> None:
        kind = self.playbook.artifact_kind(kind_key)
        assert kind is not None
        self.serial += 1
        fields, rate = fields_for(kind, optional, self.serial)
        self._emit(
            at,
            self._path("artifacts"),
            {"kind": kind_key, "fields": fields},
            "ArtifactSubmitted",
            200,
        )
        self.state.submit(kind_key, rate)

    def stakeholder(self, at: datetime, role: str) -> None:
        self.serial += 1
        email = f"{role.replace('_', '.')}.{self.serial}@{self.key}.demo.example"
        body = {
            "name": f"{role.replace('_', ' ').title()} {self.serial}",
            "role": role,
            "email": email,
        }
        self._emit(at, self._path("stakeholders"), body, "StakeholderMapped", 200)
        self.state.roles.add(role)
        self.record.contacts.append((self.last, email))

    def advance(self, at: datetime) -> bool:
        """Advance (or close as won from the last stage); True if the gate lets it through."""
        to = next_stage(self.playbook, self.state.stage)
        passes = not missing(self.state, self.playbook)
        if to == "won":
            body: dict[str, Any] = {"outcome": "won", "reason": "contract signed"}
            self._emit(
                at,
                self._path("close"),
                body,
                "OpportunityWon" if passes else "StageAdvanceBlocked",
                200 if passes else 409,
            )
        else:
            records = "StageAdvanced" if passes else "StageAdvanceBlocked"
            self._emit(at, self._path("advance"), {"to_stage": to}, records, 200 if passes else 409)
        if passes:
            if self.state.stage == CONFIRMATION_STAGE:
                self.record.confirmed_at = self.last
                docs = [
                    r.artifact
                    for r, _ in requirements(self.playbook, CONFIRMATION_STAGE)
                    if isinstance(r, ArtifactRequirement)
                ]
                self.record.confirmation_complete = all(
                    self.state.best_fill.get(d, 0) >= COMPLETE for d in docs
                )
            if to == "won":
                self.record.won_at = self.last
            self.state.stage = to
            self.record.stage = to
        return passes

    def lose(self, at: datetime) -> None:
        body = {"outcome": "lost", "reason": self.rng.choice(LOSS_REASONS)}
        self._emit(at, self._path("close"), body, "OpportunityLost", 200)
        self.record.lost_at = self.last
        raise StoryEndError

    # --- the story ---

    def run(self) -> tuple[list[Command], DealRecord]:
        with contextlib.suppress(StoryEndError):
            self._story()
        return self.commands, self.record

    def _story(self) -> None:
        r, p = self.rng, self.profile
        opened = self.record.opened_at
        amount = Decimal(round(r.lognormvariate(13.5, 0.6), -3)).quantize(Decimal("1"))
        body = {
            "account_id": self.account.account_id,
            "title": f"{self.account.name} — {r.choice(PRODUCTS)}",
            "owner_id": self.owner.member_id,
            "region": self.owner.region,
            "team": self.owner.team,
            "amount": str(amount),
            "expected_close_date": (opened + timedelta(days=120)).date().isoformat(),
            "lead_source": r.choice(("trade fair", "website", "referral", "cold call")),
        }
        self._emit(opened, "/opportunities", body, "OpportunityOpened", 201)
        first = opened + days(r, p.first_response_days)
        self.activity(first, r.choice(p.first_contact_kinds), next_step=True)
        roles = [x.key for x in self.playbook.stakeholder_roles]
        self.stakeholder(first, next((x for x in FIRST_CONTACT_ROLES if x in roles), roles[0]))
        start = self.last
        while self.state.stage != "won":
            start = self._stage(start)

    def _stage(self, start: datetime) -> datetime:
        """Work one stage from `start`; returns when the deal entered the next one."""
        r, p, stage = self.rng, self.profile, self.state.stage
        dwell = days(r, p.stage_days.get(stage, 20.0), shape=3.0)
        end = start + dwell
        lost_at = (
            start + dwell * r.uniform(0.3, 1.0)
            if r.random() < p.loss_by_stage.get(stage, 0.1)
            else None
        )
        steps = (
            self.plan.package(start, end)
            + self.plan.follow_ups(start, end)
            + self.plan.extra_roles(start, end)
        )
        steps.sort(key=lambda s: s.at)
        if lost_at is None and steps and r.random() < p.premature_advance:
            needed = [
                s for s in steps if s.action in ("artifact", "stakeholder", "package_activity")
            ]
            if needed:
                last = needed[-1]
                before = needed[-2].at if len(needed) > 1 else start
                at = before + (last.at - before) * r.uniform(0.2, 0.8)
                steps.append(Step(at, "attempt", {}))
                steps.sort(key=lambda s: s.at)
        for s in steps:
            if lost_at is not None and s.at >= lost_at:
                break
            self._do(s)
        if lost_at is not None:
            self.lose(lost_at)
        for late in self.plan.package(self.last, self.last + timedelta(days=1)):
            self._do(late)  # what an interleaved step pushed past the stay's end
        passed = self.advance(max(end, self.last + STEP))
        assert passed, f"deal {self.key} could not leave {stage}"
        return self.last

    def _do(self, s: Step) -> None:
        if s.action in ("activity", "package_activity"):
            self.activity(s.at, s.args["kind"], s.args["next_step"])
        elif s.action == "artifact":
            self.artifact(s.at, s.args["kind"], s.args["optional"])
        elif s.action == "stakeholder":
            if s.args["role"] not in self.state.roles:
                self.stakeholder(s.at, s.args["role"])
        elif missing(self.state, self.playbook):
            self.advance(s.at)  # an attempt before the package is complete: blocked
