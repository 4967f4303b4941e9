"""The audit trail on the embedded runtime: lines land in the history of a running
execution, in order, once each; a finished execution takes none and nothing breaks."""

from __future__ import annotations

from typing import Any

import pytest
from stepq.runtime.people.audit import AuditTrail

CALLBACK = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}},
            "End": True,
        }
    },
}


class Waiting:
    """An execution waiting on a callback, and an audit trail to write to it."""

    def __init__(self, embedded: Any, backend: str) -> None:
        self.tokens: list[str] = []
        self.runtime = embedded(
            {"ask": lambda e, c: self.tokens.append(e["token"])}, backend=backend
        )
        self.runtime.deploy("sm", CALLBACK)
        self.arn = self.runtime.start("sm", {"n": 1}, "e1")
        self.runtime.run_until_idle()
        assert self.tokens, "the callback task ran"
        self.audit = AuditTrail(self.runtime.queues, self.runtime.clock)

    def lines(self) -> list[dict[str, Any]]:
        history = self.runtime.history(self.arn)
        return [e["details"] for e in history if e["type"] == "RequestAuditRecorded"]

    def dead(self) -> int:
        return int(self.runtime.queues.depth("events-dlq") + self.runtime.queues.depth("events"))


@pytest.fixture(params=["memory", "moto"])
def waiting(request: pytest.FixtureRequest, embedded: Any) -> Waiting:
    return Waiting(embedded, request.param)


def test_two_lines_are_recorded_in_order_and_the_execution_carries_on(waiting: Waiting) -> None:
    waiting.audit.record(waiting.arn, "jane", "claimed", task_id="t1")
    waiting.runtime.run_until_idle()
    waiting.audit.record(waiting.arn, "tom", "Approve", task_id="t1", detail={"comment": "ok"})
    waiting.runtime.run_until_idle()
    assert waiting.lines() == [
        {"who": "jane", "what": "claimed", "taskId": "t1"},
        {"who": "tom", "what": "Approve", "taskId": "t1", "detail": {"comment": "ok"}},
    ]
    history = waiting.runtime.history(waiting.arn)
    assert [e["id"] for e in history] == list(range(1, len(history) + 1))
    assert waiting.runtime.store.latest(waiting.arn).status == "RUNNING"
    # The callback still resumes it: the audit lines moved nothing.
    waiting.runtime.client.send_task_success(waiting.tokens[0], {"done": True})
    assert waiting.runtime.wait(waiting.arn).status == "SUCCEEDED"


def test_a_repeated_call_is_one_line(waiting: Waiting) -> None:
    first = waiting.audit.record(waiting.arn, "tom", "Deny", task_id="t1")
    again = waiting.audit.record(waiting.arn, "tom", "Deny", task_id="t1")  # one batch
    assert first == again
    waiting.runtime.run_until_idle()
    waiting.runtime.clock.sleep(60)
    waiting.audit.record(waiting.arn, "tom", "Deny", task_id="t1")  # later, a commit between
    waiting.runtime.run_until_idle()
    assert waiting.lines() == [{"who": "tom", "what": "Deny", "taskId": "t1"}]
    # A line that truly happens twice says so with its own key.
    waiting.audit.record(waiting.arn, "tom", "Deny", task_id="t1", key="rev-7")
    waiting.runtime.run_until_idle()
    assert len(waiting.lines()) == 2


def test_a_finished_execution_takes_no_line_and_nothing_breaks(waiting: Waiting) -> None:
    waiting.runtime.client.send_task_success(waiting.tokens[0], {"done": True})
    assert waiting.runtime.wait(waiting.arn).status == "SUCCEEDED"
    before = waiting.runtime.history(waiting.arn)
    waiting.audit.record(waiting.arn, "tom", "Approve", task_id="t1")
    waiting.runtime.run_until_idle()
    assert waiting.runtime.history(waiting.arn) == before
    assert waiting.runtime.store.latest(waiting.arn).status == "SUCCEEDED"
    assert waiting.dead() == 0  # deleted: neither waiting nor dead-lettered
