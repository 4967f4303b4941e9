"""ListMapRuns, DescribeMapRun, UpdateMapRun over real HTTP with boto3's client.

Executions are made with the embedded runtime's own deploy/start (the API's
CreateStateMachine and StartExecution are another part's).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from api.server_support import client, module_server

PREFIX = "arn:aws:states:us-east-1:111111111111"


def park(event: Any, context: Any) -> Any:
    """Hands its token nowhere: the item waits until the execution is stopped."""
    return {}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    """One server for the module: each test runs executions of its own names."""
    with module_server(functions={"park": park}) as server:
        yield server


@pytest.fixture(scope="module")
def sfn(dev: DevServer) -> Any:
    return client(dev)


def _map(processor_states: dict[str, Any], start: str, **more: Any) -> dict[str, Any]:
    return {
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": start,
            "States": processor_states,
        },
        **more,
    }


PASS_ITEM = {"P": {"Type": "Pass", "End": True}}
FAIL_ON_TWO = {
    "Check": {
        "Type": "Choice",
        "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Boom"}],
        "Default": "Fine",
    },
    "Boom": {"Type": "Fail", "Error": "Two", "Cause": "two is bad"},
    "Fine": {"Type": "Pass", "End": True},
}
PARKED = {
    "Wait": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "park", "Payload": {"token.$": "$$.Task.Token"}},
        "End": True,
    }
}


def _run(dev: DevServer, machine: str, definition: dict[str, Any], value: Any, name: str) -> str:
    dev.runtime.deploy(machine, definition)
    arn = dev.runtime.start(machine, value, name)
    assert arn == f"{PREFIX}:execution:{machine}:{name}"
    return arn


def test_a_finished_map_run_is_listed_and_described(dev: DevServer, sfn: Any) -> None:
    definition = {
        "StartAt": "M",
        "States": {
            "M": _map(PASS_ITEM, "P", Label="Fan", MaxConcurrency=2, ToleratedFailureCount=1)
            | {"End": True}
        },
    }
    arn = _run(dev, "fan", definition, [1, 2, 3], "ok")
    assert dev.runtime.wait(arn, 30).status == "SUCCEEDED"
    runs = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    assert len(runs) == 1
    run = runs[0]
    assert run["mapRunArn"].startswith(f"{PREFIX}:mapRun:fan/ok:Fan-")
    assert run["stateMachineArn"] == f"{PREFIX}:stateMachine:fan"
    assert run["executionArn"] == arn and run["stopDate"] >= run["startDate"]
    described = sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    assert described["status"] == "SUCCEEDED"
    assert (described["maxConcurrency"], described["toleratedFailureCount"]) == (2, 1)
    assert described["toleratedFailurePercentage"] == 0.0
    counts = described["itemCounts"]
    assert (counts["succeeded"], counts["failed"], counts["total"], counts["pending"]) == (
        3,
        0,
        3,
        0,
    )
    assert described["executionCounts"] == counts and described["redriveCount"] == 0


def test_a_map_run_beyond_its_tolerance_fails(dev: DevServer, sfn: Any) -> None:
    definition = {"StartAt": "M", "States": {"M": _map(FAIL_ON_TWO, "Check") | {"End": True}}}
    arn = _run(dev, "fragile", definition, [1, 2, 3], "bad")
    assert dev.runtime.wait(arn, 30).status == "FAILED"
    (run,) = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    described = sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    assert described["status"] == "FAILED" and "stopDate" in described
    counts = described["itemCounts"]
    assert counts["failed"] == 1 and counts["total"] == 3
    assert counts["succeeded"] + counts["failed"] + counts["aborted"] == 3


def _described_when(sfn: Any, arn: str, check: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        described = sfn.describe_map_run(mapRunArn=arn)
        if check(described) or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


def test_a_running_map_run_shows_progress_takes_updates_and_is_aborted_by_a_stop(
    dev: DevServer, sfn: Any
) -> None:
    definition = {
        "StartAt": "M",
        "States": {"M": _map(PARKED, "Wait", MaxConcurrency=2) | {"End": True}},
    }
    arn = _run(dev, "parked", definition, [1, 2, 3, 4, 5], "waiting")
    (run,) = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    assert "stopDate" not in run
    map_run = run["mapRunArn"]
    described = _described_when(sfn, map_run, lambda d: d["itemCounts"]["running"] == 2)
    assert described["status"] == "RUNNING" and "stopDate" not in described
    counts = described["itemCounts"]
    assert (counts["running"], counts["pending"], counts["total"]) == (2, 3, 5)

    sfn.update_map_run(mapRunArn=map_run, maxConcurrency=4, toleratedFailurePercentage=12.5)
    updated = sfn.describe_map_run(mapRunArn=map_run)
    assert (updated["maxConcurrency"], updated["toleratedFailurePercentage"]) == (4, 12.5)
    assert updated["toleratedFailureCount"] == 0
    # The running Map applies it: two more items start at once.
    wider = _described_when(sfn, map_run, lambda d: d["itemCounts"]["running"] == 4)
    assert (wider["itemCounts"]["running"], wider["itemCounts"]["pending"]) == (4, 1)

    dev.runtime.client.stop_execution(arn)
    assert dev.runtime.wait(arn, 30).status == "ABORTED"
    aborted = sfn.describe_map_run(mapRunArn=map_run)
    assert aborted["status"] == "ABORTED" and "stopDate" in aborted
    assert aborted["itemCounts"]["aborted"] == 5 and aborted["itemCounts"]["running"] == 0
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.update_map_run(mapRunArn=map_run, maxConcurrency=1)


def test_map_runs_page_and_inline_maps_have_none(dev: DevServer, sfn: Any) -> None:
    inline = {
        "Type": "Map",
        "ItemProcessor": {"StartAt": "P", "States": PASS_ITEM},
        "Next": "First",
    }
    definition = {
        "StartAt": "Inline",
        "States": {
            "Inline": inline | {"ItemProcessor": {"StartAt": "I", "States": {"I": PASS_ITEM["P"]}}},
            "First": _map(PASS_ITEM, "P") | {"Next": "Second"},
            "Second": _map({"Q": PASS_ITEM["P"]}, "Q") | {"End": True},
        },
    }
    arn = _run(dev, "paged", definition, [1], "pages")
    assert dev.runtime.wait(arn, 30).status == "SUCCEEDED"
    first = sfn.list_map_runs(executionArn=arn, maxResults=1)
    assert len(first["mapRuns"]) == 1 and first["nextToken"]
    second = sfn.list_map_runs(executionArn=arn, maxResults=1, nextToken=first["nextToken"])
    assert len(second["mapRuns"]) == 1 and "nextToken" not in second
    arns = {first["mapRuns"][0]["mapRunArn"], second["mapRuns"][0]["mapRunArn"]}
    assert len(arns) == 2  # two runs without a label: two UUIDs
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_map_runs(executionArn=arn, nextToken="nonsense")


def test_wrong_arns_raise_botocore_exceptions(dev: DevServer, sfn: Any) -> None:
    definition = {"StartAt": "M", "States": {"M": _map(PASS_ITEM, "P") | {"End": True}}}
    arn = _run(dev, "lonely", definition, [1], "one")
    assert dev.runtime.wait(arn, 30).status == "SUCCEEDED"
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.list_map_runs(executionArn=f"{PREFIX}:execution:lonely:never")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.list_map_runs(executionArn=f"{PREFIX}:stateMachine:lonely")
    for missing in (f"{PREFIX}:mapRun:lonely/one:nothing", f"{PREFIX}:mapRun:lonely/never:x"):
        with pytest.raises(sfn.exceptions.ResourceNotFound):
            sfn.describe_map_run(mapRunArn=missing)
        with pytest.raises(sfn.exceptions.ResourceNotFound):
            sfn.update_map_run(mapRunArn=missing, maxConcurrency=1)
    for bad in ("garbage", f"{PREFIX}:mapRun:no-slash:x", f"{PREFIX}:execution:lonely:one"):
        with pytest.raises(sfn.exceptions.InvalidArn):
            sfn.describe_map_run(mapRunArn=bad)
    (run,) = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    with pytest.raises(sfn.exceptions.ValidationException):
        sfn.update_map_run(mapRunArn=run["mapRunArn"])
