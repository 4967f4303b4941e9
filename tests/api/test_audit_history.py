"""Audit lines in GetExecutionHistory, as boto3's client parses them.

botocore keeps only the members its model knows: the type ``RequestAuditRecorded``
survives (enums are not checked on responses), ``requestAuditRecordedEventDetails``
does not, so the line is carried in ``taskSubmittedEventDetails`` too."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.hosting.dev import DevServer
from stepq.runtime.people.audit import AuditTrail

from api.server_support import client, module_server, unique

TOKENS: queue.Queue[str] = queue.Queue()
MACHINE = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "hold", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}


def hold(event: dict[str, Any], context: Any) -> dict[str, Any]:
    TOKENS.put(event["token"])
    return {}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(functions={"hold": hold}) as server:
        server.runtime.deploy("audited", MACHINE)
        yield server


def _audited(sfn: Any, arn: str, count: int, **options: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        events = sfn.get_execution_history(executionArn=arn, **options)["events"]
        lines = [e for e in events if e["type"] == "RequestAuditRecorded"]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_boto3_shows_the_type_and_the_line(dev: DevServer) -> None:
    arn = dev.runtime.start("audited", {}, name=unique())
    TOKENS.get(timeout=20)
    trail = AuditTrail(dev.runtime.queues, dev.runtime.clock)
    trail.record(arn, "tom", "Approve", task_id="t1", detail={"comment": "fine"})
    sfn = client(dev)
    [line] = _audited(sfn, arn, 1)
    assert "requestAuditRecordedEventDetails" not in line  # botocore dropped it, as said
    carried = line["taskSubmittedEventDetails"]
    assert (carried["resourceType"], carried["resource"]) == ("stepq", "audit")
    assert json.loads(carried["output"]) == {
        "who": "tom",
        "what": "Approve",
        "taskId": "t1",
        "detail": {"comment": "fine"},
    }
    # Without execution data, who did what stays; what they wrote does not.
    [bare] = _audited(sfn, arn, 1, includeExecutionData=False)
    assert json.loads(bare["taskSubmittedEventDetails"]["output"]) == {
        "who": "tom",
        "what": "Approve",
        "taskId": "t1",
    }


def test_the_raw_json_has_its_own_member(dev: DevServer) -> None:
    from stepq.api.history import convert

    event = {
        "id": 3,
        "type": "RequestAuditRecorded",
        "timestamp": "2026-12-03T10:00:00+00:00",
        "previousEventId": 2,
        "details": {"who": "jane", "what": "claimed"},
    }
    out = convert(dev.context, event)
    assert out["requestAuditRecordedEventDetails"] == {"who": "jane", "what": "claimed"}
