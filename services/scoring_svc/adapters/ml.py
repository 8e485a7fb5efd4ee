"""The win-probability model: calibrated logistic regression (scikit-learn), or a stated refusal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

MIN_SAMPLES = 20
MIN_PER_CLASS = 3


@dataclass(frozen=True)
class WinModel:
    estimator: Any
    samples: int
    won: int

    def predict(self, rows: list[list[float]]) -> list[float]:
        if not rows:
            return []
        proba = self.estimator.predict_proba(np.asarray(rows, dtype=float))
        return [float(p) for p in proba[:, 1]]


def fit(rows: list[list[float]], labels: list[bool]) -> WinModel | str:
    """A fitted model, or why there is none (too few samples or a single outcome)."""
    won = sum(labels)
    lost = len(labels) - won
    if len(labels) < MIN_SAMPLES or min(won, lost) < MIN_PER_CLASS:
        return (
            f"too few closed deals to learn from ({len(labels)} closed, {won} won in their "
            f"quarter; at least {MIN_SAMPLES} with {MIN_PER_CLASS} of each outcome needed)"
        )
    base = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model = CalibratedClassifierCV(base, method="sigmoid", cv=min(3, won, lost))
    model.fit(np.asarray(rows, dtype=float), np.asarray(labels, dtype=int))
    return WinModel(model, len(labels), won)
