"""The list of pipeline events the deal projections consume is the whole pipeline catalogue."""

from __future__ import annotations

import shared.contracts  # noqa: F401 - registers the event catalogue
from shared.contracts import pipeline
from shared.contracts.pipeline import PIPELINE_EVENT_NAMES, PipelineEvent


def test_the_pipeline_event_names_are_exactly_the_registered_pipeline_events() -> None:
    registered = {
        model.event_name
        for model in vars(pipeline).values()
        if isinstance(model, type) and issubclass(model, PipelineEvent) and model.event_name
    }
    assert set(PIPELINE_EVENT_NAMES) == registered
    assert len(PIPELINE_EVENT_NAMES) == len(registered)
