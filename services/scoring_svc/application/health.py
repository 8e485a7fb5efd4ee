"""Health scores: computed live for open weeks, served as published once a week has closed."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.scoring_svc.adapters.facts import FactCache
from services.scoring_svc.application import scoring_model
from services.scoring_svc.application.uow import ScoringUnitOfWork
from services.scoring_svc.application.views import rep_body, rollup_body
from services.scoring_svc.domain import calendar
from services.scoring_svc.domain.health import rollups, week_scores
from services.scoring_svc.domain.ledger import Ledger
from services.scoring_svc.domain.model import ScoringModel
from shared.clock import Clock
from shared.contracts.scoring import ComponentScore, HealthScoreComputed
from shared.events.envelope import Metadata, NewEvent

Scope = str  # "rep", "team" or "region"
CACHED_WEEKS = 16


@dataclass
class WeekScores:
    week: calendar.Period
    model: ScoringModel
    bodies: dict[Scope, dict[str, dict[str, Any]]] = field(default_factory=dict)


def _position(ledger: Ledger, rep: str, end: datetime) -> tuple[str | None, str | None]:
    """(region, team) of a rep at E: the directory's, else that of a deal they own."""
    pos = ledger.position(rep, end)
    if pos is not None:
        return pos[0], pos[1]
    for deal in ledger.deals.values():
        if deal.opened_at < end and deal.owner_at(end)[0] == rep:
            return deal.region, deal.owner_at(end)[1]
    return None, None


class HealthScores:
    def __init__(
        self,
        facts: FactCache,
        uow: Callable[[], ScoringUnitOfWork],
        clock: Clock,
        tz: ZoneInfo,
    ) -> None:
        self._facts = facts
        self._uow = uow
        self._clock = clock
        self.tz = tz
        #: (week, model version, facts stamp) → the week's scores; facts only ever grow
        self._computed: OrderedDict[tuple[str, int, tuple[int, int]], WeekScores] = OrderedDict()

    def week(self, label: str) -> calendar.Period:
        return calendar.week(label, self.tz)

    async def compute(self, label: str, model: ScoringModel) -> WeekScores:
        """Every rep, team and region of the week, from facts with business time before E."""
        period = self.week(label)
        end = period.end
        events = await self._facts.events(before=end)
        key = (label, model.version, self._facts.stamp)
        if key in self._computed:
            self._computed.move_to_end(key)
            return self._computed[key]
        ledger = Ledger.build(events)
        reps = week_scores(ledger, model, end)
        teams, regions = rollups(ledger, reps, end)
        rep_bodies = {
            r: rep_body(h, _position(ledger, r, end), label, end, model) for r, h in reps.items()
        }
        team_bodies = {
            t: rollup_body("team", roll, _parts(rep_bodies, roll.parts), label, end, model)
            for t, roll in teams.items()
        }
        region_bodies = {
            g: rollup_body("region", roll, _parts(team_bodies, roll.parts), label, end, model)
            for g, roll in regions.items()
        }
        scores = WeekScores(
            period, model, {"rep": rep_bodies, "team": team_bodies, "region": region_bodies}
        )
        self._computed[key] = scores
        while len(self._computed) > CACHED_WEEKS:
            self._computed.popitem(last=False)
        return scores

    async def answers(self, label: str) -> tuple[dict[Scope, dict[str, dict[str, Any]]], bool]:
        """The week's bodies and whether they are published: stored once closed and published."""
        period = self.week(label)
        if self._clock.now() >= period.end:
            async with self._uow() as uow:
                if await uow.scores.published(label) is not None:
                    stored = {s: await uow.scores.week(s, label) for s in ("rep", "team", "region")}
                    return stored, True
        async with self._uow() as uow:
            model = await scoring_model.current(uow)
        return (await self.compute(label, model)).bodies, False

    async def answer(self, scope: Scope, scope_id: str, label: str) -> dict[str, Any] | None:
        bodies, published = await self.answers(label)
        body = bodies[scope].get(scope_id)
        return None if body is None else self.decorate(body, label, published)

    def decorate(self, body: dict[str, Any], label: str, published: bool) -> dict[str, Any]:
        return {
            **body,
            "provisional": self._clock.now() < self.week(label).end,
            "published": published,
        }

    async def publish(self, uow: ScoringUnitOfWork, label: str, model: ScoringModel) -> int | None:
        """Store the week's scores as a new revision and append HealthScoreComputed for each."""
        now = self._clock.now()
        revision = await uow.scores.claim(label, model.version, now)
        if revision is None:
            return None
        scores = await self.compute(label, model)
        rows = [(s, i, b) for s, bodies in scores.bodies.items() for i, b in bodies.items()]
        await uow.scores.save_many(label, revision, rows, model.version, now)
        events = [
            NewEvent(
                HealthScoreComputed(
                    occurred_at=now,
                    scope=scope,
                    scope_id=scope_id,
                    week=label,
                    score=body["score"],
                    components=[
                        ComponentScore(
                            key=c["key"],
                            weight=c.get("weight", c["model_weight"]),
                            value=c["value"],
                            subjects=c.get("subjects", c.get("parts", 0)),
                        )
                        for c in body["components"]
                    ],
                    model_version=model.version,
                    revision=revision,
                    week_ends_at=scores.week.end,
                ),
                key=scope_id,
            )
            for scope, scope_id, body in rows
        ]
        await uow.events.append(
            f"health-{label}-r{revision}", "health_week", 0, events, Metadata(actor="system")
        )
        return revision


def _parts(bodies: dict[str, dict[str, Any]], ids: dict[str, float | None]) -> dict[str, Any]:
    return {i: bodies[i] for i in ids if i in bodies}
