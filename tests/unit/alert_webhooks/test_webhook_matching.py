"""Which events go to which subscription; the secret's format; who may manage webhooks."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks import Webhook

from services.alert_svc.webhooks.domain import permissions
from services.alert_svc.webhooks.domain.errors import NotPermittedError
from services.alert_svc.webhooks.domain.subscriptions import (
    Subscription,
    event_region,
    matches,
    new_secret,
    normal_types,
)
from shared.identity import Principal


def sub(*types: str, region: str | None = None) -> Subscription:
    return Subscription("s-1", "https://hooks.example.com", types, region)


class TestMatching:
    def test_a_named_type_matches_only_that_type(self) -> None:
        s = sub("AlertRaised", "AlertResolved")

        assert matches(s, "AlertRaised", "east")
        assert matches(s, "AlertResolved", None)
        assert not matches(s, "AlertAcknowledged", "east")

    def test_the_wildcard_matches_every_type(self) -> None:
        assert matches(sub("*"), "CrossRegionConflictDetected", "south")
        assert matches(sub("*"), "AnythingNew", None)

    def test_a_region_filter_matches_only_events_of_that_region(self) -> None:
        s = sub("*", region="east")

        assert matches(s, "AlertRaised", "east")
        assert not matches(s, "AlertRaised", "south")
        assert not matches(s, "AlertRaised", None)

    def test_no_region_filter_matches_events_with_or_without_a_region(self) -> None:
        assert matches(sub("AlertRaised"), "AlertRaised", "south")
        assert matches(sub("AlertRaised"), "AlertRaised", None)

    def test_the_payload_region_wins_over_the_metadata_region(self) -> None:
        assert event_region({"region": "south", "x": 1}, "east") == "south"
        assert event_region({"x": 1}, "east") == "east"
        assert event_region({"region": None}, "east") == "east"
        assert event_region({"region": ""}, None) is None

    def test_types_are_deduplicated_and_the_wildcard_absorbs_the_rest(self) -> None:
        assert normal_types(("AlertRaised", "AlertRaised", "AlertResolved")) == [
            "AlertRaised",
            "AlertResolved",
        ]
        assert normal_types(("AlertRaised", "*")) == ["*"]


class TestSecret:
    def test_the_secret_is_in_standard_webhooks_format_and_unique(self) -> None:
        secrets = {new_secret() for _ in range(20)}

        assert len(secrets) == 20
        for secret in secrets:
            assert secret.startswith("whsec_")
            assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
            Webhook(secret)  # the reference library accepts it


def actor(role: str, region: str = "east") -> Principal:
    return Principal(sub=f"{role}-1", role=role, region=region, team=f"{region}-1")  # type: ignore[arg-type]


class TestPermissions:
    def test_an_admin_manages_any_webhook(self) -> None:
        for region in ("east", "south", None):
            permissions.require_manage(actor("admin", "hq"), region)

    def test_a_regional_manager_manages_only_webhooks_filtered_on_their_region(self) -> None:
        permissions.require_manage(actor("regional_manager", "east"), "east")
        for region in ("south", None):
            with pytest.raises(NotPermittedError):
                permissions.require_manage(actor("regional_manager", "east"), region)

    @pytest.mark.parametrize("role", ["rep", "supervisor", "partner"])
    def test_other_roles_manage_none(self, role: str) -> None:
        with pytest.raises(NotPermittedError):
            permissions.require_manage(actor(role, "east"), "east")

    def test_a_regional_manager_lists_their_own_region_only(self) -> None:
        rm = actor("regional_manager", "east")

        assert permissions.visible_region(rm, None) == "east"
        assert permissions.visible_region(rm, "east") == "east"
        with pytest.raises(NotPermittedError):
            permissions.visible_region(rm, "south")
        assert permissions.visible_region(actor("admin", "hq"), None) is None
