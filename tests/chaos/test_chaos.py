"""The chaos run in CI: a small N, a short SQS outage, a kill every few seconds.

Runs ``scripts/chaos.py`` as the user would and reads its last line. Without
Java, DynamoDB Local or moto server the script exits 3 with the reason: the
test skips, and fails instead under CI (``CI=true``) or with
``STEPQ_REQUIRE_TEST_SERVICES=1``, as the integration suite does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "chaos.py"
EXECUTIONS = 24
LINE = re.compile(r"^correct=(\d+)/(\d+) stuck=(\d+) double=(\d+)$")
UNAVAILABLE = 3

pytestmark = pytest.mark.integration


def _required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or (
        os.environ.get("STEPQ_REQUIRE_TEST_SERVICES") == "1"
    )


def test_chaos_run_every_execution_correct_none_stuck_none_double(tmp_path: Path) -> None:
    # This checkout's code wins over any installed copy, in the script and its roles.
    path = [str(REPO / "shared"), os.environ.get("PYTHONPATH", "")]
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            f"--executions={EXECUTIONS}",
            "--seed=7",
            "--outage-at=10",
            "--outage-seconds=20",
            "--kill-every=3",
            "--timeout=200",
            f"--workdir={tmp_path}",
        ],
        env=environ,
        capture_output=True,
        text=True,
        timeout=420,
    )
    lines = done.stdout.strip().splitlines() or [""]
    if done.returncode == UNAVAILABLE:
        if _required():
            pytest.fail(f"{lines[-1]} (CI requires the test services)", pytrace=False)
        pytest.skip(lines[-1])
    assert not done.stderr.strip() or "Traceback" not in done.stderr, done.stderr[-3000:]
    assert LINE.match(lines[-1]), done.stdout[-3000:] + done.stderr[-2000:]
    assert lines[-1] == f"correct={EXECUTIONS}/{EXECUTIONS} stuck=0 double=0", "\n".join(
        lines[-40:]
    )
    assert done.returncode == 0
