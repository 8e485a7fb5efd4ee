"""Artifact submissions: fields checked against their kind, fill rate = filled fields / all fields."""

from __future__ import annotations

from typing import Any

import pytest

from services.pipeline_svc.domain.artifacts import MAX_ITEMS, MAX_TEXT, check_fields
from services.pipeline_svc.domain.errors import InvalidArtifactError
from shared.contracts.playbook import ArtifactKind, FieldSpec, Label
from tests.unit.pipeline.builders import COMPLETE_FIELDS, PLAYBOOK


def kind(key: str) -> ArtifactKind:
    found = PLAYBOOK.artifact_kind(key)
    assert found is not None
    return found


def field(name: str, type_: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec.model_validate(
        {"name": name, "type": type_, "required": required, "label": {"en": name, "zh": name}}
    )


#: one optional field of every type, so each can be checked on its own
SITE_SURVEY = ArtifactKind(
    key="site_survey",
    label=Label(en="Site survey", zh="现场勘察"),
    fields=[
        field("notes", "text"),
        field("line_count", "number"),
        field("has_power", "boolean"),
        field("hazards", "list"),
        field("visit_date", "date"),
    ],
)

CHECKLIST = kind("requirement_checklist")  # 2 required (list, text) + 2 optional (text) fields
REQUIRED_ONLY = {"business_goals": ["cut downtime"], "scope": "two plants"}


class TestFillRate:
    def test_two_of_four_fields_filled_is_half(self) -> None:
        cleaned, rate = check_fields(CHECKLIST, REQUIRED_ONLY)

        assert rate == 0.5
        assert cleaned == REQUIRED_ONLY

    def test_three_of_four_fields_filled_is_three_quarters(self) -> None:
        _, rate = check_fields(CHECKLIST, {**REQUIRED_ONLY, "timeline": "Q4"})

        assert rate == 0.75

    def test_every_field_filled_is_one(self) -> None:
        _, rate = check_fields(CHECKLIST, COMPLETE_FIELDS["requirement_checklist"])

        assert rate == 1.0

    def test_the_rate_is_rounded_to_four_places(self) -> None:
        _, rate = check_fields(kind("proposal"), {"price": 10, "terms": "net 30"})

        assert rate == 0.6667

    @pytest.mark.parametrize("blank", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
    def test_a_blank_optional_string_does_not_count_as_filled(self, blank: str) -> None:
        _, rate = check_fields(CHECKLIST, {**REQUIRED_ONLY, "budget_range": blank})

        assert rate == 0.5

    def test_an_explicit_null_does_not_count_as_filled(self) -> None:
        cleaned, rate = check_fields(CHECKLIST, {**REQUIRED_ONLY, "timeline": None})

        assert rate == 0.5
        assert cleaned["timeline"] is None

    def test_a_list_of_blank_strings_does_not_count_as_filled(self) -> None:
        _, rate = check_fields(SITE_SURVEY, {"hazards": ["", "  "]})

        assert rate == 0.0

    @pytest.mark.parametrize(
        ("name", "value"),
        [("has_power", False), ("line_count", 0), ("line_count", 0.0)],
        ids=["false", "zero", "zero-float"],
    )
    def test_false_and_zero_are_real_answers(self, name: str, value: Any) -> None:
        _, rate = check_fields(SITE_SURVEY, {name: value})

        assert rate == 0.2


class TestRequiredFields:
    def test_a_missing_required_field_is_named_in_the_error(self) -> None:
        with pytest.raises(InvalidArtifactError) as refused:
            check_fields(CHECKLIST, {"business_goals": ["cut downtime"]})

        assert refused.value.extensions == {"fields": ["scope"]}
        assert refused.value.status == 422

    def test_every_missing_required_field_is_named_in_playbook_order(self) -> None:
        with pytest.raises(InvalidArtifactError) as refused:
            check_fields(kind("competitive_response_plan"), {"our_differentiators": ["service"]})

        assert refused.value.extensions == {"fields": ["competitors", "counter_strategy"]}

    @pytest.mark.parametrize(
        "fields",
        [
            {"business_goals": ["cut downtime"], "scope": "   "},
            {"business_goals": ["cut downtime"], "scope": None},
            {"business_goals": [], "scope": "two plants"},
            {"business_goals": [" ", ""], "scope": "two plants"},
        ],
        ids=["blank-text", "null-text", "empty-list", "blank-list"],
    )
    def test_a_blank_required_field_counts_as_missing(self, fields: dict[str, Any]) -> None:
        with pytest.raises(InvalidArtifactError) as refused:
            check_fields(CHECKLIST, fields)

        (missing,) = refused.value.extensions["fields"]
        assert missing in fields

    def test_a_false_required_boolean_is_present(self) -> None:
        _, rate = check_fields(
            kind("contract_review"), {"legal_approved": False, "signed_amount": 0}
        )

        assert rate == 1.0


class TestUnknownFields:
    def test_an_unknown_field_is_refused_and_named(self) -> None:
        with pytest.raises(InvalidArtifactError) as refused:
            check_fields(CHECKLIST, {**REQUIRED_ONLY, "favourite_colour": "blue"})

        assert refused.value.extensions == {"fields": ["favourite_colour"]}

    def test_unknown_fields_are_named_in_sorted_order(self) -> None:
        with pytest.raises(InvalidArtifactError) as refused:
            check_fields(CHECKLIST, {**REQUIRED_ONLY, "zeta": 1, "alpha": 2})

        assert refused.value.extensions == {"fields": ["alpha", "zeta"]}


class TestFieldTypes:
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("notes", 42),
            ("notes", ["a list"]),
            ("notes", "x" * (MAX_TEXT + 1)),
            ("line_count", "12"),
            ("line_count", True),
            ("line_count", False),
            ("has_power", "yes"),
            ("has_power", 1),
            ("hazards", "dust"),
            ("hazards", [1, 2]),
            ("hazards", ["ok", None]),
            ("hazards", ["x"] * (MAX_ITEMS + 1)),
            ("hazards", ["x" * (MAX_TEXT + 1)]),
            ("visit_date", "31/12/2025"),
            ("visit_date", "2025-02-30"),
            ("visit_date", 20251231),
        ],
        ids=[
            "text-number",
            "text-list",
            "text-too-long",
            "number-string",
            "number-bool-true",
            "number-bool-false",
            "boolean-string",
            "boolean-int",
            "list-string",
            "list-of-numbers",
            "list-with-null",
            "list-too-many-items",
            "list-item-too-long",
            "date-not-iso",
            "date-impossible",
            "date-number",
        ],
    )
    def test_a_value_of_the_wrong_type_is_refused_naming_its_field(
        self, name: str, value: Any
    ) -> None:
        with pytest.raises(InvalidArtifactError) as refused:
            check_fields(SITE_SURVEY, {name: value})

        assert refused.value.extensions == {"field": name}
        assert name in refused.value.detail

    @pytest.mark.parametrize(
        ("name", "value", "stored"),
        [
            ("notes", "dusty floor", "dusty floor"),
            ("line_count", 14, 14),
            ("line_count", 2.5, 2.5),
            ("has_power", True, True),
            ("hazards", ["dust", "noise"], ["dust", "noise"]),
            ("visit_date", "2025-06-30", "2025-06-30"),
            ("visit_date", "20250630", "2025-06-30"),
        ],
        ids=["text", "int", "float", "boolean", "list", "iso-date", "basic-iso-date"],
    )
    def test_a_value_of_the_right_type_is_kept_in_canonical_form(
        self, name: str, value: Any, stored: Any
    ) -> None:
        cleaned, rate = check_fields(SITE_SURVEY, {name: value})

        assert cleaned == {name: stored}
        assert rate == 0.2

    @pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "infinity"])
    def test_a_number_field_refuses_nan_and_infinity(self, value: float) -> None:
        with pytest.raises(InvalidArtifactError):
            check_fields(kind("proposal"), {"price": value, "terms": "net 30"})
