"""``stepq ops stuck`` and ``stepq ops reconcile`` on a deployment (moto, the settings path).

Each execution is left waiting for one thing; the command names that thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from stepq.errors import QueueError
from stepq.runtime.messages import task_queue
from stepq.runtime.ports import Message
from test_ops_support import (
    WAIT_AN_HOUR,
    Deployment,
    as_json,
    callback,
    machine,
    moto_deployment,
    ok,
    one_red_line,
    stepq,
    task,
)


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    yield from moto_deployment()


class DropsSends:
    """Queues whose sends fail: a client that died after its first commit."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def send(self, queue: str, messages: list[Message]) -> None:
        raise QueueError("the client died after its commit")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _stuck(machine_name: str, *extra: str) -> dict[str, Any]:
    report = as_json("ops", "stuck", "--older-than", "0", "--machine", machine_name, *extra)
    [item] = report["stuck"]
    return item


def test_each_reason_is_named_with_its_state_queue_and_due_time(deployment: Deployment) -> None:
    store = deployment.store
    store.put_machine("tasked", machine(task("work")))
    store.put_machine("approval", machine(callback("hold")))
    store.put_machine("pause", WAIT_AN_HOUR)
    orchestrator = deployment.orchestrator()
    tasked = orchestrator.start("tasked", "t-1", {})
    approval = orchestrator.start("approval", "a-1", {})
    pause = orchestrator.start("pause", "p-1", {})

    item = _stuck("tasked")
    assert (item["execution_arn"], item["reason"]) == (tasked, "task")
    [wait] = item["waits"]
    assert (wait["kind"], wait["state"], wait["queue"]) == ("task", "First", task_queue("work"))
    assert "attempt 1" in wait["detail"]

    item = _stuck("approval")
    assert (item["execution_arn"], item["reason"]) == (approval, "callback")
    assert [(w["kind"], w["state"]) for w in item["waits"]] == [("callback", "First")]
    assert "SendTaskSuccess" in item["hint"]

    item = _stuck("pause")
    assert (item["execution_arn"], item["reason"]) == (pause, "timer")
    [wait] = item["waits"]
    assert (wait["kind"], wait["state"], wait["detail"]) == ("timer", "First", "Wait state")
    header = store.get_execution(pause)
    assert wait["due"] > header.start_time  # an hour after the start
    assert "nothing to do" in item["hint"]


def test_lost_work_is_nothing_in_flight_and_reconcile_sends_it_again(
    deployment: Deployment,
) -> None:
    deployment.store.put_machine("orphaned", machine(task("orphan")))
    lost = deployment.orchestrator(DropsSends(deployment.queues)).start("orphaned", "o-1", {})
    assert deployment.queues.depth(task_queue("orphan")) == 0

    item = _stuck("orphaned")
    assert (item["execution_arn"], item["reason"]) == (lost, "nothing")
    assert item["hint"] == f"lost work: stepq ops reconcile {lost}"
    assert [w["kind"] for w in item["waits"]] == ["lost"]

    lines = ok("ops", "reconcile", lost, "--dry-run")
    assert len(lines) == 2 and lines[0].startswith("would send RunTask ")
    assert lines[1] == "reconciled=0 resent=1"
    assert deployment.queues.depth(task_queue("orphan")) == 0
    assert ok("ops", "reconcile", lost)[-1] == "reconciled=1 resent=1"
    assert deployment.queues.depth(task_queue("orphan")) == 1
    assert _stuck("orphaned")["reason"] == "task"  # in flight now


def test_text_output_is_one_line_per_execution_and_a_count(deployment: Deployment) -> None:
    deployment.store.put_machine("counted", machine(task("work")))
    orchestrator = deployment.orchestrator()
    arns = [orchestrator.start("counted", f"c-{i}", {}) for i in range(3)]
    lines = ok("ops", "stuck", "--older-than", "0", "--machine", "counted")
    assert len(lines) == 4
    assert sorted(line.split()[0] for line in lines[:3]) == sorted(arns)
    assert all(" task quiet=" in line and "on tasks-work" in line for line in lines[:3])
    assert lines[3] == "stuck=3 running=3 looked_at=3"


def test_the_threshold_and_the_limit_bound_what_is_reported(deployment: Deployment) -> None:
    deployment.store.put_machine("bounded", machine(task("work")))
    orchestrator = deployment.orchestrator()
    for i in range(3):
        orchestrator.start("bounded", f"b-{i}", {})
    assert ok("ops", "stuck", "--machine", "bounded") == ["stuck=0 running=3 looked_at=3"]
    lines = ok("ops", "stuck", "--older-than", "0", "--machine", "bounded", "--limit", "2")
    assert lines[-2:] == [
        "stuck=2 running=2 looked_at=2",
        "stopped at --limit 2: older executions were not looked at",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--older-than", "-1"], "--older-than must be >= 0"),
        (["--api-url", "http://127.0.0.1:9", "--table", "other"], "give --api-url"),
    ],
)
def test_bad_options_are_one_line(deployment: Deployment, args: list[str], expected: str) -> None:
    result = stepq("ops", "stuck", *args)
    assert result.exit_code == 2
    assert one_red_line(result.output).startswith(expected)


def test_an_unknown_execution_is_one_line(deployment: Deployment) -> None:
    arn = "arn:aws:states:us-east-1:111111111111:execution:nope:nope"
    result = stepq("ops", "reconcile", arn)
    assert result.exit_code == 1
    assert one_red_line(result.output) == f"no execution {arn}"


class CannotLook:
    """Queues whose depth the caller may not read (no sqs:GetQueueAttributes)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def depth(self, queue: str) -> int:
        raise QueueError(f"read attributes of {queue!r} failed: AccessDenied", "AccessDenied")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_queue_it_may_not_look_at_is_unknown_not_lost(deployment: Deployment) -> None:
    from datetime import timedelta

    from stepq.backends.aws.settings import runtime_config
    from stepq.clock import SystemClock
    from stepq.runtime.stuck import StuckFinder

    deployment.store.put_machine("unseen", machine(task("unseen")))
    lost = deployment.orchestrator(DropsSends(deployment.queues)).start("unseen", "u-1", {})
    config = runtime_config(deployment.settings)
    blind = StuckFinder(deployment.store, CannotLook(deployment.queues), SystemClock(), config)
    [item] = blind.find(timedelta(0), machine="unseen").stuck
    assert (item.execution_arn, item.reason) == (lost, "task")  # not "nothing": it cannot tell
    seeing = StuckFinder(deployment.store, deployment.queues, SystemClock(), config)
    assert [s.reason for s in seeing.find(timedelta(0), machine="unseen").stuck] == ["nothing"]
