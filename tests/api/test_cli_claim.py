"""The insurance-claim example end to end through ``stepq dev``, its verification
finished from the command line with ``stepq send-task-success``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stepq.hosting.dev import DevServer
from stepq.runtime.steps import load_functions

from api.cli_support import finished, ok, token_of

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"


@pytest.fixture
def dev_options() -> dict[str, Any]:
    # Skipping time jumps the one-day cooling-off Wait that follows the verification.
    return {"functions": load_functions(str(EXAMPLES / "insurance_claim.py")), "skip_time": True}


@pytest.mark.xfail(
    reason="needs the API branches (CreateStateMachine, StartExecution, GetExecutionHistory, "
    "SendTaskSuccess, DescribeExecution), and a skip-time that does not jump over the "
    "TimeoutSeconds of a task waiting for its callback (today it fires at once)",
    strict=False,
)
def test_the_claim_is_verified_from_the_command_line(dev: DevServer) -> None:
    ok(dev, "create", str(EXAMPLES / "insurance_claim.asl.json"))
    claim = {"policy": "p-1", "amount": 800, "verdict": "silent"}  # nobody answers but us
    ok(dev, "start", "insurance_claim", "--name", "c-1", "--input", json.dumps(claim))
    token = token_of(dev, "insurance_claim:c-1")
    ok(dev, "send-task-success", token, "--output", '{"score": 0.95, "verifier": "cli"}')
    status, output = finished(dev, "insurance_claim:c-1")
    assert status == "SUCCEEDED"
    assert output["verification"] == {"score": 0.95, "verifier": "cli"}
    assert output["payment"]["paid"] == 800
