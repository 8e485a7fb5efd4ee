"""The in-process drive of the activity command (`bench/inproc.py`) runs both apps to the end."""

from __future__ import annotations

import pytest

from bench.inproc import drive

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("target", ["pipeline", "same-work"])
async def test_the_drive_measures_every_round_of_either_app(database_url: str, target: str) -> None:
    cpu = await drive(target, database_url, commands=40, rounds=2)

    # each round's commands all answered 2xx (drive asserts each status) and took some CPU
    assert len(cpu) == 2 and all(ms > 0 for ms in cpu)
