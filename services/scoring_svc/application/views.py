"""JSON answers of the health endpoints, built from the domain's results."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from statistics import mean
from typing import Any

from services.scoring_svc.domain import model as m
from services.scoring_svc.domain.health import RepHealth, Rollup
from services.scoring_svc.domain.model import ScoringModel


def rep_body(
    h: RepHealth,
    position: tuple[str | None, str | None],
    week: str,
    end: datetime,
    model: ScoringModel,
) -> dict[str, Any]:
    return {
        "scope": "rep",
        "scope_id": h.rep_id,
        "region": position[0],
        "team": position[1],
        "week": week,
        "week_ends_at": end.isoformat(),
        "score": h.score,
        "model_version": model.version,
        "components": [
            {
                "key": c.key,
                "model_weight": c.model_weight,
                "weight": round(c.weight, 6),
                "value": round(c.value, 6),
                "subjects": len(c.opportunities),
                "opportunities": [asdict(o) for o in c.opportunities],
            }
            for c in h.components
        ],
        "raise_most": [asdict(s) for s in h.raise_most],
    }


def _mean_components(bodies: list[dict[str, Any]], model: ScoringModel) -> list[dict[str, Any]]:
    """Per component, the mean of the parts' values (parts where it applies)."""
    out = []
    for key in m.COMPONENTS:
        values = [c["value"] for b in bodies for c in b.get("components", []) if c["key"] == key]
        if values:
            out.append(
                {
                    "key": key,
                    "model_weight": model.weights[key],
                    "value": round(mean(values), 6),
                    "parts": len(values),
                }
            )
    return out


def rollup_body(
    scope: str,
    r: Rollup,
    parts: dict[str, dict[str, Any]],
    week: str,
    end: datetime,
    model: ScoringModel,
) -> dict[str, Any]:
    scored = [b for b in parts.values() if b.get("score") is not None]
    return {
        "scope": scope,
        "scope_id": r.scope_id,
        "region": r.region,
        "week": week,
        "week_ends_at": end.isoformat(),
        "score": r.score,
        "model_version": model.version,
        "components": _mean_components(scored, model),
        "parts": [{"id": k, "score": v} for k, v in sorted(r.parts.items())],
    }
