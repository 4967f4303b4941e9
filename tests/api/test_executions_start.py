"""StartExecution, StartSyncExecution, DescribeExecution and StopExecution over real HTTP
with boto3's unchanged stepfunctions client."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from stepq.hosting.dev import DevServer

from tests.api.executions_support import (
    FAILS,
    PASS_ONLY,
    WAIT_LONG,
    create_alias,
    create_machine,
    publish_version,
)


def _until_closed(sfn: Any, arn: str, seconds: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.01)


def test_a_pass_only_machine_starts_and_is_described_succeeded(sfn: Any, dev: DevServer) -> None:
    machine = create_machine(sfn, dev, "passes", PASS_ONLY)
    started = sfn.start_execution(stateMachineArn=machine, name="first", input='{"a": 1}')
    arn = started["executionArn"]
    assert arn == "arn:aws:states:us-east-1:111111111111:execution:passes:first"
    described = _until_closed(sfn, arn)
    assert described["status"] == "SUCCEEDED"
    assert described["executionArn"] == arn
    assert described["stateMachineArn"] == machine
    assert described["name"] == "first"
    assert json.loads(described["input"]) == {"a": 1}
    assert json.loads(described["output"]) == {"a": 1, "first": {"one": 1}}
    assert described["inputDetails"] == {"included": True}
    assert described["outputDetails"] == {"included": True}
    assert described["startDate"] == started["startDate"]
    assert described["stopDate"] >= described["startDate"]
    assert described["redriveCount"] == 0 and described["redriveStatus"] == "NOT_REDRIVABLE"
    assert "error" not in described and "stateMachineVersionArn" not in described
