"""The reduced fault harness (`make chaos CHAOS_ARGS=--reduced`) finds no discrepancy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
REPO_ROOT = Path(__file__).resolve().parents[2]
#: the reduced run is sized for <= 3 minutes; the margin covers a loaded CI machine
RUN_TIMEOUT_S = 420


@pytest.mark.timeout(RUN_TIMEOUT_S + 30)
def test_nothing_is_lost_or_doubled_through_process_broker_and_database_faults(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "chaos", "--reduced", "--workdir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    output = run.stdout + run.stderr
    assert "Chaos checks" in output, output[-5000:]
    assert run.returncode == 0, output[-8000:]
