"""A timed transition: a human task's ``TimeoutSeconds`` with a Catch of
``States.Timeout``, on ``stepq dev`` with time skipped (the day passes at once).

Once the execution has left the task, the task shows as CLOSED and an action
on it is refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from stepq.hosting.dev import DevServer
from stepq.runtime.people.directory import Directory

from api.people_support import ROLE, Refused, by, call, human
from api.server_support import client, module_server, unique

DAY = 86400


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(dev_identities=True, skip_time=True) as server:
        Directory(server.runtime.store).create("Executives", ["tom", "gary"])
        yield server


def test_walkthrough_a_timed_transition_fires_after_its_delay(dev: DevServer) -> None:
    sfn = client(dev)
    definition = {
        "StartAt": "A",
        "States": {
            "A": human(
                "Approve within a day",
                [{"Name": "approved", "Requires": [by("Approve", {"Group": "Executives"})]}],
                TimeoutSeconds=DAY,
                Catch=[
                    {"ErrorEquals": ["States.Timeout"], "ResultPath": None, "Next": "Escalated"}
                ],
                End=True,
            ),
            "Escalated": {"Type": "Succeed"},
        },
    }
    arn = sfn.create_state_machine(
        name=unique("timed"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    started = call(
        dev,
        "CreateRequest",
        {"stateMachineArn": arn, "input": json.dumps({"expense": {"amount": 5}})},
        "jane",
    )
    execution = started["executionArn"]
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the timeout never fired"
        time.sleep(0.05)
    events: list[dict[str, Any]] = sfn.get_execution_history(executionArn=execution)["events"]
    kinds = {e["type"]: e["timestamp"] for e in events}
    assert "TaskTimedOut" in kinds and "TaskSucceeded" not in kinds
    assert kinds["TaskTimedOut"] - kinds["TaskScheduled"] >= timedelta(seconds=DAY)
    names = [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]
    assert names == ["A", "Escalated"]

    tasks = call(dev, "ListRequestTasks", {"executionArn": execution}, "jane")["tasks"]
    assert [(t["state"], t["status"], t["myActions"]) for t in tasks] == [("A", "CLOSED", [])]
    with pytest.raises(Refused) as refused:
        call(dev, "ActOnTask", {"taskId": tasks[0]["taskId"], "action": "Approve"}, "tom")
    assert refused.value.status == 403 and "closed" in refused.value.message
    assert call(dev, "ListMyTasks", {}, "tom")["tasks"] == []
