"""``stepq ops ... --api-url`` against ``stepq dev``: its table and queues live in its own
process, so the operator tools reach them through stepq's own API operations.

Each execution is left waiting for one thing (a token, an activity nobody
polls, a Wait, a retry's back-off, a task whose message was never sent) and
``ops stuck`` names it; ``ops reconcile`` sends the lost one's work and it
finishes. An inbox start for a machine that does not exist yet is
dead-lettered with its reason; once the machine exists, ``ops dlq redrive``
puts the message back and the execution runs.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from stepq.cli import app
from stepq.errors import QueueError
from stepq.hosting.dev import DevServer
from stepq.runtime.orchestrator import Orchestrator
from stepq.runtime.ports import Message
from typer.testing import CliRunner

from api.server_support import client, module_server, unique

ACCOUNT = "111111111111"
LAMBDA = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"


def hold(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A callback task's step: takes the token, answers nothing."""
    return {"accepted": True}


def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("the service is down")


def idle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"done": True}


@pytest.fixture(scope="module")
def dev() -> Iterator[DevServer]:
    with module_server(functions={"hold": hold, "flaky": flaky, "idle": idle}) as server:
        yield server


def run(dev: DevServer, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--api-url", dev.url])


def ok(dev: DevServer, *args: str) -> list[str]:
    result = run(dev, *args)
    assert result.exit_code == 0, result.output
    return [line for line in result.output.splitlines() if line.strip()]


def as_json(dev: DevServer, *args: str) -> Any:
    result = run(dev, *args, "--output", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def one_red_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert "Traceback" not in output and len(lines) == 1, output
    return lines[0]


def deploy(dev: DevServer, first: dict[str, Any]) -> str:
    name = unique("ops")
    dev.runtime.deploy(name, {"StartAt": "First", "States": {"First": {**first, "End": True}}})
    return name


def settled(dev: DevServer, execution: str, kind: str) -> None:
    """Wait until ``kind`` is in the execution's history (the runtime has moved it there)."""
    for _ in range(200):
        if any(e["type"] == kind for e in dev.runtime.history(execution)):
            return
        dev.runtime.pause(0.05)
    raise AssertionError(f"no {kind} in the history of {execution}")


def stuck_item(dev: DevServer, machine: str) -> dict[str, Any]:
    report = as_json(dev, "ops", "stuck", "--older-than", "0", "--machine", machine)
    [item] = report["stuck"]
    return item


class DropsSends:
    """A client that dies after its first commit: nothing it decided is sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def send(self, queue: str, messages: list[Message]) -> None:
        raise QueueError("the client died after its commit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_stuck_names_a_callback_an_activity_a_wait_and_a_retry(dev: DevServer) -> None:
    callback = deploy(
        dev,
        {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "hold", "Payload": {"token.$": "$$.Task.Token"}},
        },
    )
    activity = client(dev).create_activity(name=unique("review"))["activityArn"]
    polled = deploy(dev, {"Type": "Task", "Resource": activity})
    waits = deploy(dev, {"Type": "Wait", "Seconds": 3600})
    retries = deploy(
        dev,
        {
            "Type": "Task",
            "Resource": LAMBDA + "flaky",
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3600}],
        },
    )
    arns = {m: dev.runtime.start(m, {}, name=unique()) for m in (callback, polled, waits, retries)}
    settled(dev, arns[callback], "TaskSubmitted")
    settled(dev, arns[retries], "LambdaFunctionFailed")

    item = stuck_item(dev, callback)
    assert (item["execution_arn"], item["reason"]) == (arns[callback], "callback")
    assert [(w["kind"], w["state"]) for w in item["waits"]] == [("callback", "First")]

    item = stuck_item(dev, polled)
    assert (item["execution_arn"], item["reason"]) == (arns[polled], "task")
    [wait] = item["waits"]
    assert wait["queue"].startswith("activity-")
    assert "waiting for a worker's GetActivityTask" in wait["detail"]

    item = stuck_item(dev, waits)
    assert item["reason"] == "timer"
    assert [(w["kind"], w["detail"]) for w in item["waits"]] == [("timer", "Wait state")]

    item = stuck_item(dev, retries)
    assert item["reason"] == "timer"
    [wait] = item["waits"]
    assert (wait["kind"], wait["state"], wait["detail"]) == ("timer", "First", "retry back-off")
    assert wait["due"] > item["last_commit_at"]

    lines = ok(dev, "ops", "stuck", "--older-than", "0", "--machine", retries)
    assert lines[0].startswith(f"{arns[retries]} timer quiet=")
    assert "timer at First (retry back-off) due " in lines[0]
    assert lines[1] == "stuck=1 running=1 looked_at=1"


def test_lost_work_is_found_and_reconcile_finishes_it(dev: DevServer) -> None:
    machine = deploy(dev, {"Type": "Task", "Resource": LAMBDA + "idle"})
    runtime = dev.runtime
    dying = Orchestrator(
        runtime.store, DropsSends(runtime.queues), runtime.clock, runtime.orchestrator.config
    )
    lost = dying.start(machine, unique(), {})

    item = stuck_item(dev, machine)
    assert (item["execution_arn"], item["reason"]) == (lost, "nothing")
    assert item["hint"] == f"lost work: stepq ops reconcile {lost}"

    lines = ok(dev, "ops", "reconcile", lost)
    assert lines[0].startswith("sent RunTask ") and lines[-1] == "reconciled=1 resent=1"
    assert runtime.wait(lost, timeout=30).status == "SUCCEEDED"
    assert as_json(dev, "ops", "stuck", "--older-than", "0", "--machine", machine)["stuck"] == []


def test_a_dead_lettered_inbox_start_is_listed_and_redriven_once_its_machine_exists(
    dev: DevServer,
) -> None:
    machine, name = unique("later"), unique("from-inbox")
    start = {"action": "StartExecution", "stateMachineName": machine, "name": name, "input": {}}
    dev.runtime.send_to_inbox(start)
    listed: list[dict[str, Any]] = []
    for _ in range(200):
        listing = as_json(dev, "ops", "dlq", "list", "inbox")
        listed = [m for m in listing["messages"] if machine in m["reason"]]
        if listed:
            break
        dev.runtime.pause(0.05)
    [dead] = listed
    assert dead["queue"] == "inbox" and dead["execution_arn"] is None
    lines = ok(dev, "ops", "dlq", "list", "inbox")
    assert any(line.startswith(f"inbox {dead['id']} age=") for line in lines)

    client(dev).create_state_machine(
        name=machine,
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/stepq-ops",
    )
    moved = ok(dev, "ops", "dlq", "redrive", "inbox", "--id", dead["id"])
    assert moved == [f"moved {dead['id']} to inbox", "moved=1"]
    arn = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{machine}:{name}"
    for _ in range(200):
        try:
            if dev.runtime.store.get_execution(arn).status == "SUCCEEDED":
                break
        except Exception:  # not started yet
            pass
        dev.runtime.pause(0.05)
    assert dev.runtime.store.get_execution(arn).status == "SUCCEEDED"
    assert all(m["id"] != dead["id"] for m in as_json(dev, "ops", "dlq", "list")["messages"])


def test_mistakes_and_an_unreachable_api_are_one_line(dev: DevServer) -> None:
    result = run(dev, "ops", "dlq", "list", "nosuch")
    assert result.exit_code == 1
    assert one_red_line(result.output).startswith("ResourceNotFound: no dead-letter queue")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = CliRunner().invoke(app, ["ops", "stuck", "--api-url", closed])
    assert result.exit_code == 1
    assert one_red_line(result.output).startswith(f"cannot reach the stepq API at {closed}")
