"""The CLI's client commands against ``stepq dev`` over real HTTP (typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from stepq.cli.api_client import ApiClient
from stepq.hosting.dev import DevServer
from stepq.runtime.steps import load_functions

from api.cli_support import as_json, finished, ok, stepq, token_of

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"
MACHINE = "arn:aws:states:us-east-1:111111111111:stateMachine"
EXECUTION = "arn:aws:states:us-east-1:111111111111:execution"

CALLBACK = {
    "StartAt": "AskHuman",
    "States": {
        "AskHuman": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "hand_off", "Payload": {"token.$": "$$.Task.Token"}},
            "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Refused"}],
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
        "Refused": {"Type": "Pass", "Result": "refused", "End": True},
    },
}


def hand_off(event: Any, context: Any) -> dict[str, Any]:
    return {"handed_off": True}  # the token waits for someone at the command line


@pytest.fixture
def dev_options() -> dict[str, Any]:
    steps = load_functions(str(EXAMPLES / "order_saga.py"))
    return {"functions": {**steps, "hand_off": hand_off}}


def test_names_become_arns_of_the_api_s_account_and_region(dev: DevServer) -> None:
    api = ApiClient(dev.url)
    assert api.where() == ("us-east-1", "111111111111")  # Stepq.Ping over HTTP
    assert api.machine_arn("order_saga") == f"{MACHINE}:order_saga"
    assert api.machine_arn("order_saga:prod") == f"{MACHINE}:order_saga:prod"
    assert api.execution_arn("order_saga:run-1") == f"{EXECUTION}:order_saga:run-1"
    assert api.execution_arn(f"{EXECUTION}:a:b") == f"{EXECUTION}:a:b"


def test_an_api_error_is_its_code_and_message_in_one_line(dev: DevServer) -> None:
    # Whatever the operation's state in this branch, an error reply is one line with
    # Step Functions' error name (the unknown-target error today, InvalidArn when merged).
    result = stepq(dev, "describe", "arn:aws:states:us-east-1:111111111111:execution:bad")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].split(":")[0] in ("InvalidArn", "UnknownOperationException"), lines


def test_create_start_wait_describe_list_history_graph(dev: DevServer) -> None:
    path = str(EXAMPLES / "order_saga.asl.json")
    assert ok(dev, "create", path).strip() == f"created {MACHINE}:order_saga"
    order = json.dumps({"order_id": "o-1", "amount": 5, "items": ["x"]})
    waited = ok(dev, "start", "order_saga", "--name", "o-1", "--input", order, "--wait")
    assert "ExecutionSucceeded" in waited  # progress lines while it ran
    assert "SUCCEEDED" in waited and "charge_id" in waited  # the outcome and output
    described = as_json(dev, "describe", "order_saga:o-1")
    assert described["status"] == "SUCCEEDED" and json.loads(described["input"]) == json.loads(
        order
    )
    assert "SUCCEEDED" in ok(dev, "describe", f"{EXECUTION}:order_saga:o-1")
    machine = as_json(dev, "describe", "order_saga")
    assert json.loads(machine["definition"])["StartAt"] == "Charge"
    # A failing order, then every way of listing.
    failing = json.dumps({"order_id": "o-2", "amount": 5, "items": ["x"], "fail_at": "ship"})
    result = stepq(dev, "start", "order_saga", "--name", "x-2", "--input", failing, "--wait")
    assert result.exit_code == 1 and "FAILED" in result.output
    listed = as_json(dev, "list", "--machine", "order_saga")
    assert {e["name"]: e["status"] for e in listed} == {"o-1": "SUCCEEDED", "x-2": "FAILED"}
    failed = as_json(dev, "list", "--machine", "order_saga", "--status", "FAILED")
    assert [e["name"] for e in failed] == ["x-2"]
    prefixed = as_json(dev, "list", "--name-prefix", "o-")  # all machines: SearchExecutions
    assert [e["name"] for e in prefixed] == ["o-1"]
    table = ok(dev, "list", "--machine", "order_saga")
    assert "o-1" in table and "x-2" in table
    timeline = ok(dev, "history", "order_saga:o-1")
    assert "ExecutionSucceeded" in timeline and "Charge" in timeline
    events = as_json(dev, "history", "order_saga:o-1")
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    graph = as_json(dev, "graph", "order_saga", "--execution", "order_saga:x-2")
    assert graph["states"]["Ship"] == "caught" and graph["states"]["OrderFailed"] == "failed"
    assert "classDef caught" in graph["graph"]
    by_execution = as_json(dev, "graph", f"{EXECUTION}:order_saga:x-2", "--format", "dot")
    assert by_execution["states"] == graph["states"]  # DescribeStateMachineForExecution
    since = as_json(dev, "list", "--started-after", "2000-01-01T00:00:00", "--limit", "1")
    assert len(since) == 1 and since[0]["name"] in ("o-1", "x-2")
    assert [m["name"] for m in as_json(dev, "machines")] == ["order_saga"]
    assert "updated" in ok(dev, "update", path)


def test_send_task_success_and_failure_from_the_cli_resume_waiting_executions(
    dev: DevServer, tmp_path: Path
) -> None:
    path = tmp_path / "approval.asl.json"
    path.write_text(json.dumps(CALLBACK), encoding="utf-8")
    ok(dev, "create", str(path))
    ok(dev, "start", "approval", "--name", "yes", "--input", '{"claim": 1}')
    piped = stepq(dev, "start", "approval", "--name", "no", "--input-file", "-", input="{}")
    assert piped.exit_code == 0, piped.output
    token = token_of(dev, "approval:yes")
    # The same name and input while it runs: the same execution (Step Functions' rule).
    again = as_json(dev, "start", "approval", "--name", "yes", "--input", '{"claim": 1}')
    assert again["executionArn"] == f"{EXECUTION}:approval:yes"
    assert "heartbeat sent" in ok(dev, "send-task-heartbeat", token)
    ok(dev, "send-task-success", token, "--output", '{"approved": true}')
    assert finished(dev, "approval:yes") == ("SUCCEEDED", {"approved": True})
    ok(
        dev,
        "send-task-failure",
        token_of(dev, "approval:no"),
        "--error",
        "Rejected",
        "--cause",
        "no",
    )
    assert finished(dev, "approval:no") == ("SUCCEEDED", "refused")  # the Catch took it
    late = stepq(dev, "send-task-success", token, "--output", "{}")
    assert late.exit_code == 1 and late.output.startswith("TaskTimedOut"), late.output


def test_stop_then_redrive(dev: DevServer, tmp_path: Path) -> None:
    path = tmp_path / "approval.asl.json"
    path.write_text(json.dumps(CALLBACK), encoding="utf-8")
    ok(dev, "create", str(path))
    ok(dev, "start", "approval", "--name", "s1")
    assert "stopped" in ok(dev, "stop", "approval:s1", "--error", "Operator", "--cause", "test")
    described = as_json(dev, "describe", "approval:s1")
    assert described["status"] == "ABORTED"
    assert "redriven" in ok(dev, "redrive", "approval:s1")
    assert as_json(dev, "describe", "approval:s1")["status"] == "RUNNING"
    ok(dev, "send-task-success", token_of(dev, "approval:s1"), "--output", "{}")
    assert finished(dev, "approval:s1")[0] == "SUCCEEDED"
    result = stepq(dev, "redrive", "approval:s1")
    assert result.exit_code == 1 and result.output.startswith("ExecutionNotRedrivable")
