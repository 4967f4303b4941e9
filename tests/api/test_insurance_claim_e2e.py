"""Issue 10's acceptance path: the insurance-claim example end to end through the API,
its verification answered by ``stepq send-task-success`` from the command line.

The machine is created and started with the CLI, the token is read from the
history the API serves (the TaskScheduled event shows the resolved
parameters, token included), the CLI answers it, and then the test moves
the runtime's clock over the one-day cooling-off Wait. (``skip_time`` would
not do: it jumps to the next timer whenever nothing runs, and the task's
three-day TimeoutSeconds is such a timer, so the wait for a person would
time out at once.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stepq.cli import app
from stepq.clock import ManualClock, monotonic
from stepq.hosting.dev import DevServer
from stepq.runtime.steps import load_functions
from typer.testing import CliRunner

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"


@pytest.fixture
def dev_options() -> dict[str, Any]:
    return {
        "functions": load_functions(str(EXAMPLES / "insurance_claim.py")),
        "clock": ManualClock(),
    }


def _cli(dev: DevServer, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--api-url", dev.url])
    assert result.exit_code == 0, result.output
    return str(result.output)


def _token(sfn: Any, arn: str, timeout: float = 30.0) -> str:
    deadline = monotonic() + timeout
    while monotonic() < deadline:
        for event in sfn.get_execution_history(executionArn=arn)["events"]:
            details = event.get("taskScheduledEventDetails")
            if details and details["resource"].endswith(".waitForTaskToken"):
                return str(json.loads(details["parameters"])["Payload"]["token"])
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    raise AssertionError("no task waited for a token")


def _entered(sfn: Any, arn: str, state: str, timeout: float = 30.0) -> None:
    deadline = monotonic() + timeout
    while monotonic() < deadline:
        for event in sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"]:
            if event.get("stateEnteredEventDetails", {}).get("name") == state:
                return
    raise AssertionError(f"{arn} never entered {state}")


def _outcome(sfn: Any, arn: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = monotonic() + timeout
    while monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return dict(described)
    raise AssertionError(f"{arn} still running")


def test_the_claim_is_verified_from_the_command_line_and_paid(dev: DevServer, sfn: Any) -> None:
    _cli(dev, "create", str(EXAMPLES / "insurance_claim.asl.json"))
    claim = {"policy": "p-1", "amount": 800, "verdict": "silent"}  # nobody answers but us
    started = json.loads(
        _cli(
            dev,
            "start",
            "insurance_claim",
            "--name",
            "claim-1",
            "--input",
            json.dumps(claim),
            "--output",
            "json",
        )
    )
    arn = started["executionArn"]
    token = _token(sfn, arn)

    _cli(dev, "send-task-success", token, "--task-output", '{"score": 0.97, "verifier": "cli"}')

    _entered(sfn, arn, "CoolingOff")
    dev.runtime.clock.advance(86_400 + 1)  # type: ignore[attr-defined]  # a day later
    outcome = _outcome(sfn, arn)
    assert outcome["status"] == "SUCCEEDED", outcome
    output = json.loads(outcome["output"])
    assert output["verification"] == {"score": 0.97, "verifier": "cli"}
    # The answered token is closed now: a second answer is refused as Step Functions does.
    with pytest.raises(sfn.exceptions.TaskTimedOut):
        sfn.send_task_success(taskToken=token, output="{}")
