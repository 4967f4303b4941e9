"""GetExecutionHistory over real HTTP: every event type the core emits, in Step
Functions' HistoryEvent shape as botocore parses it; pagination, reverseOrder,
includeExecutionData."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.api.history import detail_members, details_member, split_resource
from stepq.api.model import service_model
from stepq.core.definition import STATE_TYPES
from stepq.hosting.dev import DevServer

from api.executions_support import (
    create_alias,
    create_machine,
    publish_version,
    shared_dev,
)

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


def double(event: Any, context: Any = None) -> Any:
    return {**event, "n": event["n"] * 2}


def boom(event: Any, context: Any = None) -> Any:
    raise ValueError("no")


def hand_over(event: Any, context: Any = None) -> Any:
    return {"handed": True}  # a callback task: the token went out, no answer comes


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    # skip_time: the Wait and the callback's timeout pass at once
    yield from shared_dev(
        functions={"double": double, "boom": boom, "hand_over": hand_over}, skip_time=True
    )


EVERYTHING = {
    "StartAt": "Pass",
    "States": {
        "Pass": {"Type": "Pass", "Parameters": {"n": 1, "items.$": "$.items"}, "Next": "Lambda"},
        "Lambda": {"Type": "Task", "Resource": LAMBDA + "double", "Next": "Invoke"},
        "Invoke": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": LAMBDA + "double", "Payload.$": "$"},
            "ResultSelector": {"n.$": "$.Payload.n", "items.$": "$.Payload.items"},
            "Next": "Callback",
        },
        "Callback": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": LAMBDA + "hand_over",
                "Payload": {"token.$": "$$.Task.Token", "n.$": "$.n"},
            },
            "TimeoutSeconds": 60,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.timeout", "Next": "Fails"}],
            "Next": "Fails",
        },
        "Fails": {
            "Type": "Task",
            "Resource": LAMBDA + "boom",
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Choose"}],
            "Next": "Choose",
        },
        "Choose": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericEquals": 4, "Next": "Wait"}],
            "Default": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Branches"},
        "Branches": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}},
                {"StartAt": "B2", "States": {"B2": {"Type": "Pass", "End": True}}},
            ],
            "ResultPath": None,
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Item",
                "States": {"Item": {"Type": "Pass", "End": True}},
            },
            "ResultPath": None,
            "Next": "EachFails",
        },
        "EachFails": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Bad",
                "States": {"Bad": {"Type": "Fail", "Error": "Item.Bad"}},
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Distributed"}],
            "Next": "Distributed",
        },
        "Distributed": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "D",
                "States": {"D": {"Type": "Pass", "End": True}},
            },
            "ResultPath": None,
            "Next": "BranchFails",
        },
        "BranchFails": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Branch.Bad"}}}
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Done"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def _history(sfn: Any, arn: str, **kwargs: Any) -> list[dict[str, Any]]:
    paginator = sfn.get_paginator("get_execution_history")
    return [e for page in paginator.paginate(executionArn=arn, **kwargs) for e in page["events"]]


def _run(sfn: Any, dev: DevServer, definition: dict[str, Any], data: Any, **start: Any) -> str:
    machine = create_machine(sfn, dev, "history", definition)
    arn = sfn.start_execution(
        stateMachineArn=start.pop("via", machine), input=json.dumps(data), **start
    )["executionArn"]
    dev.runtime.wait(arn, timeout=30)
    return arn


def test_every_event_of_a_rich_run_parses_in_step_functions_shape(sfn: Any, dev: DevServer) -> None:
    arn = _run(sfn, dev, EVERYTHING, {"items": [1, 2]})
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    events = _history(sfn, arn)
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert all(e["previousEventId"] == e["id"] - 1 for e in events)
    enum = set(service_model().shape_for("HistoryEvent").members["type"].enum)
    for event in events:
        assert event["type"] in enum
        member = details_member(event["type"])
        if member is not None:
            assert member in event, event  # botocore parsed the details member we sent
            required = service_model().shape_for("HistoryEvent").members[member].required_members
            assert set(required) <= set(event[member]), event
    seen = {e["type"] for e in events}
    assert {
        "ExecutionStarted",
        "PassStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionSucceeded",
        "LambdaFunctionFailed",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskSubmitted",
        "TaskTimedOut",
        "ChoiceStateExited",
        "WaitStateExited",
        "ParallelStateStarted",
        "ParallelStateSucceeded",
        "ParallelStateFailed",
        "MapStateStarted",
        "MapIterationStarted",
        "MapIterationSucceeded",
        "MapIterationFailed",
        "MapStateSucceeded",
        "MapStateFailed",
        "MapRunStarted",
        "MapRunSucceeded",
        "SucceedStateExited",
        "ExecutionSucceeded",
    } <= seen

    first = events[0]["executionStartedEventDetails"]
    assert json.loads(first["input"]) == {"items": [1, 2]}
    assert first["inputDetails"] == {"truncated": False}
    assert first["roleArn"].startswith("arn:aws:iam::")
    entered = next(e for e in events if e["type"] == "TaskStateEntered")
    assert entered["stateEnteredEventDetails"]["name"] == "Lambda"
    scheduled = next(e for e in events if e["type"] == "LambdaFunctionScheduled")
    assert scheduled["lambdaFunctionScheduledEventDetails"]["resource"] == LAMBDA + "double"
    tasks = [e["taskScheduledEventDetails"] for e in events if e["type"] == "TaskScheduled"]
    assert (tasks[0]["resourceType"], tasks[0]["resource"]) == ("lambda", "invoke")
    assert tasks[0]["region"] == "us-east-1"
    assert json.loads(tasks[0]["parameters"]) == {
        "FunctionName": LAMBDA + "double",
        "Payload": {"n": 2, "items": [1, 2]},
    }
    # The callback's TaskScheduled shows the resolved parameters, token included.
    callback = json.loads(tasks[1]["parameters"])
    assert tasks[1]["resource"] == "invoke.waitForTaskToken"
    assert callback["FunctionName"] == LAMBDA + "hand_over"
    assert isinstance(callback["Payload"]["token"], str) and len(callback["Payload"]["token"]) > 20
    assert tasks[1]["timeoutInSeconds"] == 60
    timed_out = next(e for e in events if e["type"] == "TaskTimedOut")
    assert timed_out["taskTimedOutEventDetails"]["error"] == "States.Timeout"
    assert timed_out["taskTimedOutEventDetails"]["resource"] == "invoke.waitForTaskToken"
    failed = next(e for e in events if e["type"] == "LambdaFunctionFailed")
    assert failed["lambdaFunctionFailedEventDetails"]["error"] == "ValueError"
    iteration = next(e for e in events if e["type"] == "MapIterationStarted")
    assert iteration["mapIterationStartedEventDetails"] == {"name": "Each", "index": 0}
    assert next(e for e in events if e["type"] == "MapStateStarted")[
        "mapStateStartedEventDetails"
    ] == {"length": 2}
    last = events[-1]["executionSucceededEventDetails"]
    assert json.loads(last["output"])["items"] == [1, 2]


def test_failed_aborted_and_timed_out_runs_end_in_their_events(sfn: Any, dev: DevServer) -> None:
    fails = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E", "Cause": "C"}}}
    events = _history(sfn, _run(sfn, dev, fails, {}))
    assert events[-2]["type"] == "FailStateEntered"
    assert events[-1]["executionFailedEventDetails"] == {"error": "E", "cause": "C"}

    slow = {
        "TimeoutSeconds": 5,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}},
    }
    events = _history(sfn, _run(sfn, dev, slow, {}))
    assert events[-1]["type"] == "ExecutionTimedOut"
    assert events[-1]["executionTimedOutEventDetails"]["error"] == "States.Timeout"

    machine = create_machine(
        sfn,
        dev,
        "history-stop",
        {
            "StartAt": "T",
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {
                        "FunctionName": "hand_over",
                        "Payload": {"t.$": "$$.Task.Token"},
                    },
                    "End": True,
                }
            },
        },
    )
    arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    sfn.stop_execution(executionArn=arn, error="Stop.It", cause="enough")
    events = _history(sfn, arn)
    assert events[-1]["type"] == "ExecutionAborted"
    assert events[-1]["executionAbortedEventDetails"] == {"error": "Stop.It", "cause": "enough"}


def test_a_long_history_pages_forward_and_backward(sfn: Any, dev: DevServer) -> None:
    # 120 Map iterations of a Pass state: hundreds of events.
    wide = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                "ResultPath": None,
                "End": True,
            }
        },
    }
    arn = _run(sfn, dev, wide, list(range(120)))
    whole = sfn.get_execution_history(executionArn=arn, maxResults=1000)
    total = whole["events"]
    assert "nextToken" not in whole and len(total) > 480
    assert [e["id"] for e in total] == list(range(1, len(total) + 1))
    head = sfn.get_execution_history(executionArn=arn, maxResults=300)
    rest = sfn.get_execution_history(executionArn=arn, maxResults=300, nextToken=head["nextToken"])
    assert head["events"] + rest["events"] == total and "nextToken" not in rest
    # The default page is 100; pages never repeat or skip an event.
    first = sfn.get_execution_history(executionArn=arn)
    assert len(first["events"]) == 100
    paged = _history(sfn, arn, PaginationConfig={"PageSize": 97})
    assert [e["id"] for e in paged] == [e["id"] for e in total]
    backward = _history(sfn, arn, reverseOrder=True, PaginationConfig={"PageSize": 150})
    assert [e["id"] for e in backward] == [e["id"] for e in reversed(total)]
    assert backward[0]["type"] == "ExecutionSucceeded"
    # A token is for the request that made it.
    token = sfn.get_execution_history(executionArn=arn, maxResults=5)["nextToken"]
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=arn, reverseOrder=True, nextToken=token)
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=arn, nextToken="x" * 40)


def test_include_execution_data_false_leaves_out_inputs_and_outputs(
    sfn: Any, dev: DevServer
) -> None:
    two = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Task", "Resource": LAMBDA + "double", "End": True},
        },
    }
    arn = _run(sfn, dev, two, {"n": 21, "secret": "s3cr3t"})
    with_data = sfn.get_execution_history(executionArn=arn)["events"]
    assert "s3cr3t" in json.dumps(with_data, default=str)
    without = sfn.get_execution_history(executionArn=arn, includeExecutionData=False)["events"]
    assert [e["type"] for e in without] == [e["type"] for e in with_data]
    text = json.dumps(without, default=str)
    assert "s3cr3t" not in text and '"input"' not in text and '"output"' not in text
    assert without[1]["stateEnteredEventDetails"] == {"name": "A"}
    assert json.loads(with_data[-1]["executionSucceededEventDetails"]["output"])["n"] == 42


def test_execution_started_names_the_version_and_alias(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(
        sfn, dev, "history-alias", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    version = publish_version(sfn, dev, machine)
    alias = create_alias(sfn, dev, machine, "blue", version)
    arn = sfn.start_execution(stateMachineArn=alias)["executionArn"]
    dev.runtime.wait(arn, timeout=30)
    started = sfn.get_execution_history(executionArn=arn)["events"][0]
    details = started["executionStartedEventDetails"]
    assert details["stateMachineVersionArn"] == version
    assert details["stateMachineAliasArn"] == alias


def test_history_of_what_does_not_exist(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.get_execution_history(
            executionArn="arn:aws:states:us-east-1:111111111111:execution:m:e"
        )
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.get_execution_history(executionArn="arn:aws:states:us-east-1:111111111111:execution")


# --- the mapping itself, for every type the core can emit -----------------------------

CORE_TYPES = (
    [f"{t}StateEntered" for t in STATE_TYPES]
    + [f"{t}StateExited" for t in STATE_TYPES if t != "Fail"]
    + [
        f"{family}{what}"
        for family in ("Task", "LambdaFunction")
        for what in ("Scheduled", "Started", "Succeeded", "Failed", "TimedOut")
    ]
    + ["TaskSubmitted", "ParallelStateStarted", "MapStateStarted"]
    + [f"{t}State{what}" for t in ("Map", "Parallel") for what in ("Succeeded", "Failed")]
    + [f"MapIteration{what}" for what in ("Started", "Succeeded", "Failed")]
    + [f"MapRun{what}" for what in ("Started", "Succeeded", "Failed", "Aborted")]
    + [f"Execution{what}" for what in ("Started", "Succeeded", "Failed", "TimedOut", "Aborted")]
)


@pytest.mark.parametrize("event_type", CORE_TYPES)
def test_every_core_event_type_is_one_botocore_knows(event_type: str) -> None:
    enum = service_model().shape_for("HistoryEvent").members["type"].enum
    assert event_type in enum
    member = details_member(event_type)
    assert member is None or member in detail_members()


def test_resources_are_split_as_step_functions_shows_them() -> None:
    assert split_resource("arn:aws:states:::lambda:invoke.waitForTaskToken") == (
        "lambda",
        "invoke.waitForTaskToken",
    )
    assert split_resource("arn:aws:states:::aws-sdk:sqs:sendMessage") == (
        "aws-sdk:sqs",
        "sendMessage",
    )
    assert split_resource("arn:aws:states:::sqs:sendMessage") == ("sqs", "sendMessage")
