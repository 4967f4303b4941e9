"""RedriveExecution over real HTTP with boto3's unchanged client, on ``stepq dev``.

StartExecution and DescribeExecution are other parts of issue 10: executions
are started with the embedded runtime behind the server (``dev.runtime``), and
the redrive fields DescribeExecution shows come from ``redrive.describe_fields``,
the function it calls.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from stepq.api.redrive import describe_fields
from stepq.hosting.dev import DevServer

LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"
ARN = "arn:aws:states:us-east-1:111111111111"


class Boom(Exception):
    """What a failing step raises (its error name in the history)."""


class Steps:
    """Step functions that fail on their first run (by key), and remember callback tokens."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.fail_first: set[str] = set()
        self.tokens: list[str] = []
        self.lock = threading.Lock()

    def count(self, key: str) -> int:
        with self.lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            return self.calls[key]

    def flaky(self, event: Any, context: Any) -> Any:
        if self.count("flaky") == 1:
            raise Boom("first run fails")
        return {"seen": event}

    def broken(self, event: Any, context: Any) -> Any:
        self.count("broken")
        raise Boom("always fails")

    def item(self, event: Any, context: Any) -> Any:
        n = self.count(f"item-{event}")
        if event == 2 and n == 1:
            raise Boom("item 2 fails on its first run")
        return event * 10

    def wide(self, event: Any, context: Any) -> Any:
        n = self.count(f"wide-{event}")
        if event == 25 and n == 1:
            raise Boom("item 25 fails on its first run")
        return f"output of item {event:02d}, long enough to be held"

    def ask(self, event: Any, context: Any) -> Any:
        with self.lock:
            self.tokens.append(event["token"])
        return None


@pytest.fixture
def steps() -> Steps:
    return Steps()


@pytest.fixture
def dev_options(steps: Steps) -> dict[str, Any]:
    return {
        "functions": {
            "flaky": steps.flaky,
            "broken": steps.broken,
            "item": steps.item,
            "wide": steps.wide,
            "ask": steps.ask,
        }
    }


def _run(dev: DevServer, name: str, definition: dict[str, Any], execution: str) -> str:
    dev.runtime.deploy(name, definition)
    return dev.runtime.start(name, {"in": 1}, execution)


def _events(dev: DevServer, arn: str) -> list[str]:
    return [event["type"] for event in dev.runtime.history(arn)]


def _fields(dev: DevServer, arn: str) -> dict[str, Any]:
    return describe_fields(dev.context, dev.runtime.store.get_execution(arn))


FLAKY = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"x": 1}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": LAMBDA + "flaky", "Next": "Report"},
        "Report": {
            "Type": "Pass",
            "Parameters": {"out.$": "$", "redrives.$": "$$.Execution.RedriveCount"},
            "End": True,
        },
    },
}


def test_a_failed_task_is_redriven_to_success_on_the_same_arn(
    dev: DevServer, sfn: Any, steps: Steps
) -> None:
    arn = _run(dev, "flaky", FLAKY, "once")
    assert dev.runtime.wait(arn, 30).status == "FAILED"
    assert _fields(dev, arn) == {"redriveCount": 0, "redriveStatus": "REDRIVABLE"}

    reply = sfn.redrive_execution(executionArn=arn)
    assert isinstance(reply["redriveDate"], datetime)
    done = dev.runtime.wait(arn, 30)
    assert done.status == "SUCCEEDED"
    assert done.output == {"out": {"seen": {"x": 1}}, "redrives": 1}
    assert steps.calls["flaky"] == 2
    events = _events(dev, arn)
    # The history is kept; the redrive appends to it, from the failed state on.
    assert events.count("ExecutionFailed") == 1 and events.count("PassStateEntered") == 2
    assert events.index("ExecutionRedriven") == events.index("ExecutionFailed") + 1
    redriven = next(e for e in dev.runtime.history(arn) if e["type"] == "ExecutionRedriven")
    assert redriven["details"] == {"redriveCount": 1}
    assert events[events.index("ExecutionRedriven") + 1] == "TaskStateEntered"

    fields = _fields(dev, arn)
    assert fields["redriveCount"] == 1 and fields["redriveStatus"] == "NOT_REDRIVABLE"
    assert fields["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert abs(fields["redriveDate"].timestamp() - reply["redriveDate"].timestamp()) < 0.002
    # Listed under its new outcome only (the DynamoDB store's status index).
    store = dev.runtime.store
    assert [h.execution_id for h in store.list_executions("flaky", "SUCCEEDED")] == [arn]
    assert store.list_executions("flaky", "FAILED") == []


def test_succeeded_running_and_unknown_executions_are_refused(dev: DevServer, sfn: Any) -> None:
    ok = _run(dev, "pass", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}, "ok")
    assert dev.runtime.wait(ok, 30).status == "SUCCEEDED"
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable, match="SUCCEEDED"):
        sfn.redrive_execution(executionArn=ok)
    hold = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    running = _run(dev, "hold", hold, "busy")
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable, match="RUNNING"):
        sfn.redrive_execution(executionArn=running)
    assert _fields(dev, running)["redriveStatusReason"] == (
        "Execution is RUNNING and cannot be redriven"
    )
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.redrive_execution(executionArn=f"{ARN}:execution:hold:nobody")
    for bad in (f"{ARN}:stateMachine:hold", "arn:nope", f"{ARN}:execution:hold"):
        with pytest.raises(sfn.exceptions.InvalidArn):
            sfn.redrive_execution(executionArn=bad)
    with pytest.raises(sfn.exceptions.InvalidArn):  # another account's
        sfn.redrive_execution(executionArn=running.replace("111111111111", "222222222222"))
    assert _events(dev, ok)[-1] == "ExecutionSucceeded"


def test_a_client_token_makes_the_redrive_idempotent(
    dev: DevServer, sfn: Any, steps: Steps
) -> None:
    broken = {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": LAMBDA + "broken", "End": True}},
    }
    arn = _run(dev, "broken", broken, "again")
    assert dev.runtime.wait(arn, 30).status == "FAILED"
    first = sfn.redrive_execution(executionArn=arn, clientToken="token-1")["redriveDate"]
    assert dev.runtime.wait(arn, 30).status == "FAILED"
    # The same token again: the same redrive, not a second one.
    assert sfn.redrive_execution(executionArn=arn, clientToken="token-1")["redriveDate"] == first
    assert steps.calls["broken"] == 2 and _fields(dev, arn)["redriveCount"] == 1
    second = sfn.redrive_execution(executionArn=arn, clientToken="token-2")["redriveDate"]
    assert second >= first
    assert dev.runtime.wait(arn, 30).status == "FAILED"
    assert steps.calls["broken"] == 3 and _fields(dev, arn)["redriveCount"] == 2
    assert _events(dev, arn).count("ExecutionRedriven") == 2


PARALLEL = {
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {
                    "StartAt": "Quick",
                    "States": {
                        "Quick": {"Type": "Task", "Resource": LAMBDA + "flaky", "End": True}
                    },
                },
                {
                    "StartAt": "Ask",
                    "States": {
                        "Ask": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                            "Parameters": {
                                "FunctionName": "ask",
                                "Payload": {"token.$": "$$.Task.Token"},
                            },
                            "End": True,
                        }
                    },
                },
            ],
            "End": True,
        }
    },
}


def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        pause.wait(0.02)
    raise AssertionError("condition not met in time")


def test_a_stopped_execution_is_redriven_where_it_was(
    dev: DevServer, sfn: Any, steps: Steps
) -> None:
    steps.calls["flaky"] = 1  # its next run succeeds
    arn = _run(dev, "parallel", PARALLEL, "stopped")
    # The quick branch finishes; the other waits for its callback, then is stopped.
    _wait_for(lambda: len(steps.tokens) == 1 and "LambdaFunctionSucceeded" in _events(dev, arn))
    dev.runtime.client.stop_execution(arn, error="Operator", cause="stopped for a test")
    assert dev.runtime.wait(arn, 30).status == "ABORTED"
    assert _fields(dev, arn)["redriveStatus"] == "REDRIVABLE"

    date = sfn.redrive_execution(executionArn=arn, clientToken="stop-1")["redriveDate"]
    assert dev.runtime.store.get_execution(arn).status == "RUNNING"
    assert [h.execution_id for h in dev.runtime.store.list_executions("parallel", "RUNNING")] == [
        arn
    ]
    assert dev.runtime.store.list_executions("parallel", "ABORTED") == []
    # While it runs: the same token is the same redrive; another is refused.
    assert sfn.redrive_execution(executionArn=arn, clientToken="stop-1")["redriveDate"] == date
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable, match="RUNNING"):
        sfn.redrive_execution(executionArn=arn, clientToken="stop-2")
    # Only the branch that was still running runs again, with a new token.
    _wait_for(lambda: len(steps.tokens) == 2)
    assert steps.tokens[0] != steps.tokens[1]
    dev.runtime.client.send_task_success(steps.tokens[1], {"answer": 42})  # SendTaskSuccess
    done = dev.runtime.wait(arn, 30)
    assert done.status == "SUCCEEDED", done
    assert done.output == [{"seen": {"in": 1}}, {"answer": 42}]
    assert steps.calls["flaky"] == 2  # the finished branch was not run again


MAP = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Item",
                "States": {"Item": {"Type": "Task", "Resource": LAMBDA + "item", "End": True}},
            },
            "End": True,
        }
    },
}


def test_a_failed_map_iteration_is_redriven(dev: DevServer, sfn: Any, steps: Steps) -> None:
    dev.runtime.deploy("map", MAP)
    arn = dev.runtime.start("map", {"items": [1, 2, 3]}, "items")
    failed = dev.runtime.wait(arn, 30)
    assert failed.status == "FAILED" and failed.error == "Boom"
    sfn.redrive_execution(executionArn=arn)
    done = dev.runtime.wait(arn, 30)
    assert done.status == "SUCCEEDED" and done.output == [10, 20, 30]
    assert steps.calls["item-2"] == 2
    events = _events(dev, arn)
    assert events.count("MapIterationFailed") == 1
    assert events[events.index("ExecutionRedriven") + 1] == "MapStateEntered"


def test_a_wide_failed_map_reruns_only_the_items_that_did_not_succeed(
    dev: DevServer, sfn: Any, steps: Steps
) -> None:
    """Forty outputs are more than a snapshot holds inline: the store keeps them (held)."""
    wide = {
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "MaxConcurrency": 1,  # items run in order: 0..24 succeed, 25 fails
                "ItemProcessor": {
                    "StartAt": "I",
                    "States": {"I": {"Type": "Task", "Resource": LAMBDA + "wide", "End": True}},
                },
                "End": True,
            }
        },
    }
    dev.runtime.deploy("wide", wide)
    arn = dev.runtime.start("wide", list(range(40)), "wide")
    assert dev.runtime.wait(arn, 60).status == "FAILED"
    sfn.redrive_execution(executionArn=arn)
    done = dev.runtime.wait(arn, 60)
    assert done.status == "SUCCEEDED"
    assert done.output == [f"output of item {i:02d}, long enough to be held" for i in range(40)]
    assert all(steps.calls[f"wide-{i}"] == 1 for i in range(25))  # kept, not run again
    assert steps.calls["wide-25"] == 2
    assert all(steps.calls[f"wide-{i}"] == 1 for i in range(26, 40))  # first run after the redrive
    events = _events(dev, arn)
    after = events[events.index("ExecutionRedriven") :]
    assert after.count("MapIterationStarted") == 15


def test_a_timed_out_execution_is_redriven_with_its_timeout_started_again(
    dev: DevServer, sfn: Any
) -> None:
    slow = {
        "TimeoutSeconds": 1,
        "StartAt": "W",
        "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}},
    }
    arn = _run(dev, "slow", slow, "late")
    assert dev.runtime.wait(arn, 30).status == "TIMED_OUT"
    sfn.redrive_execution(executionArn=arn)
    again = dev.runtime.wait(arn, 30)
    assert again.status == "TIMED_OUT"
    assert _events(dev, arn).count("ExecutionTimedOut") == 2
    assert _fields(dev, arn)["redriveStatus"] == "REDRIVABLE"
