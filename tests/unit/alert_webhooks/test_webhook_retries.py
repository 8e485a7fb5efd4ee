"""The retry schedule: exponential, capped, jittered into the upper half, bounded attempts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.alert_svc.webhooks.domain.retries import (
    Next,
    RetryPolicy,
    after_attempt,
    succeeded,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=6, base_delay_s=5.0, max_delay_s=60.0)


class TestSchedule:
    def test_without_jitter_the_delay_doubles_from_half_the_base(self) -> None:
        delays = [POLICY.delay_s(n, jitter=0.0) for n in range(1, 6)]

        assert delays == [2.5, 5.0, 10.0, 20.0, 30.0]

    def test_at_full_jitter_the_delay_approaches_the_exponential_ceiling(self) -> None:
        delays = [POLICY.delay_s(n, jitter=0.999999) for n in range(1, 6)]

        assert delays == pytest.approx([5.0, 10.0, 20.0, 40.0, 60.0], rel=1e-5)

    def test_the_cap_holds_for_very_late_attempts(self) -> None:
        assert POLICY.delay_s(500, jitter=0.999) <= 60.0
        assert POLICY.delay_s(500, jitter=0.0) == 30.0

    @pytest.mark.parametrize("jitter", [0.0, 0.1, 0.37, 0.5, 0.9, 0.999])
    def test_every_delay_lies_between_half_and_the_whole_ceiling(self, jitter: float) -> None:
        for n in range(1, 10):
            ceiling = min(60.0, 5.0 * 2 ** (n - 1))
            assert ceiling / 2 <= POLICY.delay_s(n, jitter) <= ceiling


class TestAfterAnAttempt:
    def test_a_success_is_delivered_with_nothing_left_to_do(self) -> None:
        assert after_attempt(POLICY, 3, 6, True, NOW, 0.5) == Next("delivered", None)

    def test_a_failure_with_budget_left_is_due_again_after_the_delay(self) -> None:
        nxt = after_attempt(POLICY, 2, 6, False, NOW, 0.0)

        assert nxt == Next("pending", NOW + timedelta(seconds=5.0))

    def test_the_last_attempt_of_the_budget_fails_the_delivery(self) -> None:
        assert after_attempt(POLICY, 6, 6, False, NOW, 0.5) == Next("failed", None)

    def test_a_replayed_delivery_gets_a_fresh_budget(self) -> None:
        # failed after 6; a replay sets give_up_after to 6 + 6
        assert after_attempt(POLICY, 7, 12, False, NOW, 0.0).status == "pending"
        assert after_attempt(POLICY, 12, 12, False, NOW, 0.0).status == "failed"

    @pytest.mark.parametrize(
        ("code", "ok"),
        [(200, True), (204, True), (299, True), (301, False), (410, False), (500, False)],
    )
    def test_only_a_2xx_answer_is_a_success(self, code: int, ok: bool) -> None:
        assert succeeded(code) is ok

    def test_no_answer_is_not_a_success(self) -> None:
        assert succeeded(None) is False
