"""``Stepq.GetMachineGraph``, ``Stepq.GetExecutionGraph`` and ``Stepq.CountExecutions``
over HTTP: what the console draws and counts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stepq.hosting.dev import DevServer
from stepq.runtime.steps import load_functions

from api.people_support import Refused, call
from api.server_support import client, module_server

EXAMPLES = Path(__file__).resolve().parents[2] / "state_machine"
ROLE = "arn:aws:iam::111111111111:role/stepq"
HOLD = {
    "StartAt": "Hold",
    "States": {
        "Hold": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "hand_off", "Payload": {"token.$": "$$.Task.Token"}},
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def hand_off(event: Any, context: Any) -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    steps = {**load_functions(str(EXAMPLES / "order_saga.py")), "hand_off": hand_off}
    steps.update(load_functions(str(EXAMPLES / "data_pipeline.py")))
    with module_server(functions=steps) as server:
        sfn = client(server)
        for name in ("order_saga", "data_pipeline"):
            text = (EXAMPLES / f"{name}.asl.json").read_text(encoding="utf-8")
            sfn.create_state_machine(name=name, definition=text, roleArn=ROLE)
        sfn.create_state_machine(name="hold", definition=json.dumps(HOLD), roleArn=ROLE)
        yield server


def _machine(dev: DevServer, name: str) -> str:
    return f"arn:aws:states:us-east-1:111111111111:stateMachine:{name}"


def _run(dev: DevServer, machine: str, name: str, data: dict[str, Any], until: str) -> str:
    sfn = client(dev)
    arn = str(
        sfn.start_execution(
            stateMachineArn=_machine(dev, machine), name=name, input=json.dumps(data)
        )["executionArn"]
    )
    deadline = time.monotonic() + 20
    while sfn.describe_execution(executionArn=arn)["status"] != until:
        assert time.monotonic() < deadline, f"{name} never became {until}"
        time.sleep(0.05)
    return arn


def test_console_machine_graph_has_nodes_edges_and_nested_clusters(dev: DevServer) -> None:
    found = call(dev, "GetMachineGraph", {"stateMachineArn": _machine(dev, "data_pipeline")}, None)
    graph = found["graph"]
    names = {n["name"]: n for n in graph["nodes"]}
    assert names["Extract"]["type"] == "Parallel" and "status" not in names["Extract"]
    labels = sorted(c["label"] for c in graph["clusters"])
    assert labels == ["Extract: branch 1", "Extract: branch 2", "Transform: each item"]
    enrich = names["Enrich"]["id"]
    assert any(enrich in c["nodes"] for c in graph["clusters"])
    assert {"source": "__start__", "target": names["Extract"]["id"]} in graph["edges"]
    assert json.loads(found["definition"])["StartAt"] == "Extract"


def test_console_execution_graph_gives_statuses_visits_and_taken_edges(dev: DevServer) -> None:
    order = {"order_id": "o-9", "amount": 3, "items": ["x"], "fail_at": "ship"}
    arn = _run(dev, "order_saga", "graph-failed", order, "FAILED")
    found = call(dev, "GetExecutionGraph", {"executionArn": arn}, None)
    assert found["execution"]["status"] == "FAILED" and found["stateMachineName"] == "order_saga"
    nodes = {n["name"]: n for n in found["graph"]["nodes"]}
    statuses = {name: node["status"] for name, node in nodes.items()}
    assert statuses == {
        "Charge": "succeeded",
        "Reserve": "succeeded",
        "Ship": "caught",
        "Confirmed": "not_reached",
        "Release": "succeeded",
        "Refund": "succeeded",
        "OrderFailed": "failed",
    }
    ship = nodes["Ship"]["visit"]
    assert ship["entries"] == 1 and ship["error"] == "CarrierUnavailableError"
    assert json.loads(ship["input"])["order_id"] == "o-9"
    assert "visit" not in nodes["Confirmed"]
    taken = {(e["source"], e["target"]) for e in found["graph"]["edges"] if e["taken"]}
    assert (nodes["Ship"]["id"], nodes["Release"]["id"]) in taken
    assert (nodes["Ship"]["id"], nodes["Confirmed"]["id"]) not in taken


def test_console_execution_graph_shows_a_task_waiting_for_its_token(dev: DevServer) -> None:
    arn = _run(dev, "hold", "graph-waiting", {}, "RUNNING")
    deadline = time.monotonic() + 20
    while True:
        nodes = call(dev, "GetExecutionGraph", {"executionArn": arn}, None)["graph"]["nodes"]
        statuses = {n["name"]: n["status"] for n in nodes}
        if statuses["Hold"] == "waiting" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert statuses == {"Hold": "waiting", "Done": "not_reached"}
    client(dev).stop_execution(executionArn=arn)


def test_console_counts_executions_by_status(dev: DevServer) -> None:
    _run(dev, "order_saga", "count-ok", {"order_id": "c", "amount": 1, "items": ["x"]}, "SUCCEEDED")
    counted = call(dev, "CountExecutions", {"stateMachineName": "order_saga"}, None)
    listed = client(dev).list_executions(stateMachineArn=_machine(dev, "order_saga"))
    by_status: dict[str, int] = {}
    for item in listed["executions"]:
        by_status[item["status"]] = by_status.get(item["status"], 0) + 1
    assert {k: v for k, v in counted["counts"].items() if v} == by_status
    assert counted["total"] == len(listed["executions"]) and counted["truncated"] is False
    only = call(dev, "CountExecutions", {"namePrefix": "count-", "limit": 1}, None)
    assert only["total"] == 1 and only["counts"]["SUCCEEDED"] == 1


@pytest.mark.parametrize(
    ("operation", "params", "error"),
    [
        ("GetExecutionGraph", {}, "ValidationException"),
        ("GetExecutionGraph", {"executionArn": 7}, "ValidationException"),
        ("GetExecutionGraph", {"executionArn": "x", "extra": 1}, "ValidationException"),
        (
            "GetExecutionGraph",
            {"executionArn": "arn:aws:states:us-east-1:111111111111:execution:order_saga:nope"},
            "ExecutionDoesNotExist",
        ),
        ("GetExecutionGraph", {"executionArn": "not-an-arn"}, "InvalidArn"),
        (
            "GetMachineGraph",
            {"stateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:nope"},
            "StateMachineDoesNotExist",
        ),
        ("CountExecutions", {"stateMachineName": "nope"}, "StateMachineDoesNotExist"),
        ("CountExecutions", {"limit": 0}, "ValidationException"),
    ],
)
def test_console_graph_and_count_errors_are_step_functions_errors(
    dev: DevServer, operation: str, params: dict[str, Any], error: str
) -> None:
    with pytest.raises(Refused) as refused:
        call(dev, operation, params, None)
    assert refused.value.type.endswith(error) and refused.value.status == 400


def test_console_counts_within_a_start_time_range(dev: DevServer) -> None:
    _run(dev, "order_saga", "range-1", {"order_id": "r", "amount": 1, "items": ["x"]}, "SUCCEEDED")
    started = (
        client(dev)
        .describe_execution(
            executionArn="arn:aws:states:us-east-1:111111111111:execution:order_saga:range-1"
        )["startDate"]
        .timestamp()
    )
    inside = {"namePrefix": "range-", "startedAfter": started - 1, "startedBefore": started + 1}
    assert call(dev, "CountExecutions", inside, None)["total"] == 1
    later = {"namePrefix": "range-", "startedAfter": "2999-01-01T00:00:00"}
    assert call(dev, "CountExecutions", later, None)["total"] == 0
    with pytest.raises(Refused) as refused:
        call(dev, "CountExecutions", {"startedAfter": True}, None)
    assert refused.value.type.endswith("ValidationException")
