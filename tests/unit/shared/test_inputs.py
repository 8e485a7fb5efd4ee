"""What the edge refuses before PostgreSQL sees it, and which field it names."""

from __future__ import annotations

from typing import Any

import pytest

from shared.http.inputs import find_unstorable


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"summary": "a\x00b"}, "summary"),
        ({"contacts": ["Li", "Wang\x00"]}, "contacts.1"),
        ({"fields": {"scope": {"deep": ["ok", "\ud800"]}}}, "fields.scope.deep.1"),
        ({"fields": {"goals": [float("inf")]}}, "fields.goals.0"),
        ({"fields": {"n": float("nan")}}, "fields.n"),
        ({"fields": {"k\x00": 1}}, "fields"),
        ({"k\x00": 1}, "body"),
        (["\x00"], "0"),
    ],
)
def test_the_first_unstorable_value_is_named_by_its_path(value: Any, field: str) -> None:
    found = find_unstorable(value)

    assert found is not None
    assert found[0] == field


@pytest.mark.parametrize(
    "value",
    [
        {"summary": "现场拜访 🚀 emoji and CJK are fine", "n": 1.5, "big": 10**30},
        {"nested": [{"a": None, "b": True, "c": []}]},
        "plain",
        None,
    ],
)
def test_storable_values_pass(value: Any) -> None:
    assert find_unstorable(value) is None
