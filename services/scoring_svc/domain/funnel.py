"""The stage funnel and its death nodes (死亡节点): where deals stall or die, and what they lacked."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

from services.scoring_svc.domain.calendar import Period
from services.scoring_svc.domain.kpis import Scope, days, stays
from services.scoring_svc.domain.ledger import Deal, Ledger
from services.scoring_svc.domain.model import round_half_up

STALL_DAYS = 14.0


@dataclass
class Transition:
    stage: str
    to: str
    entered: list[str] = field(default_factory=list)
    advanced: list[str] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)
    died: list[str] = field(default_factory=list)
    dwell: list[float] = field(default_factory=list)
    missing: Counter[str] = field(default_factory=Counter)

    def view(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "to": self.to,
            "entered": len(self.entered),
            "advanced": len(self.advanced),
            "stalled": len(self.stalled),
            "died": len(self.died),
            "median_dwell_days": round_half_up(median(self.dwell), 1) if self.dwell else None,
            "dwell_count": len(self.dwell),
            "missing_at_death": [
                {"code": code, "deals": n}
                for code, n in sorted(self.missing.items(), key=lambda x: (-x[1], x[0]))
            ],
            "evidence": {"stalled": sorted(self.stalled), "died": sorted(self.died)},
        }


def _last_block_before_death(deal: Deal, stage: str, died_at: datetime) -> tuple[str, ...]:
    blocks = [b for b in deal.blocked if b.from_stage == stage and b.at <= died_at]
    return blocks[-1].missing if blocks else ()


def funnel(
    ledger: Ledger, scope: Scope, p: Period, now: datetime, stall_days: float = STALL_DAYS
) -> dict[str, Any]:
    """Per stage: deals that entered it in P, and what became of them by now."""
    order = ledger.stages(now)
    nodes = {
        s: Transition(s, order[i + 1] if i + 1 < len(order) else "won") for i, s in enumerate(order)
    }
    for deal in ledger.deals.values():
        for stage, entered, left, to in stays(deal):
            node = nodes.get(stage)
            if node is None or not (p.start <= entered < p.end and entered <= now):
                continue
            if not scope.holds(*ledger.owner_position(deal, entered)):
                continue
            oid = deal.opportunity_id
            node.entered.append(oid)
            if left is not None and left <= now:
                node.dwell.append(days(entered, left))
                if to == node.to:
                    node.advanced.append(oid)
                elif to == "lost":
                    node.died.append(oid)
                    node.missing.update(_last_block_before_death(deal, stage, left))
            elif days(entered, now) > stall_days:
                node.stalled.append(oid)
    transitions = [nodes[s].view() for s in order]
    worst = sorted(
        (t for t in transitions if t["died"] + t["stalled"] > 0),
        key=lambda t: -(t["died"] + t["stalled"]),
    )
    return {"transitions": transitions, "death_nodes": worst[:3]}
