"""The core's audit events: a running execution records them and changes nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from stepq.core.events import AuditRecorded, StartExecution, StopRequested
from stepq.core.execution import new_execution
from stepq.core.interpreter import AUDIT_EVENT, decide
from stepq.core.machine import Machine
from stepq.errors import MalformedMessageError
from stepq.runtime import codec, messages

NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)
WAITING = {
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


def _running() -> tuple[Machine, object]:
    machine = Machine(WAITING)
    state = new_execution(name="run", state_machine_name="m", start_time=NOW)
    state, _ = decide(machine, state, StartExecution({"n": 1}, NOW))
    return machine, state


def test_a_running_execution_records_one_history_event_and_nothing_else() -> None:
    machine, before = _running()
    later = NOW + timedelta(seconds=5)
    event = AuditRecorded(later, "tom", "Approve", task_id="t1", detail={"comment": "fine"})
    after, decision = decide(machine, before, event)
    assert decision.commands == []
    [recorded] = decision.events
    assert recorded.type == AUDIT_EVENT == "RequestAuditRecorded"
    assert recorded.timestamp == later
    assert recorded.previous_id == before.last_event_id
    assert recorded.details == {
        "who": "tom",
        "what": "Approve",
        "taskId": "t1",
        "detail": {"comment": "fine"},
    }
    # Only the event count moves: the frames, tasks, tokens and timers are as they were.
    assert after.last_event_id == before.last_event_id + 1
    after.last_event_id = before.last_event_id
    assert codec.encode_state(after) == codec.encode_state(before)


def test_fields_not_given_are_left_out() -> None:
    machine, state = _running()
    _, decision = decide(machine, state, AuditRecorded(NOW, "jane", "claimed"))
    assert decision.events[0].details == {"who": "jane", "what": "claimed"}


def test_a_finished_execution_decides_nothing() -> None:
    machine, state = _running()
    state, _ = decide(machine, state, StopRequested(NOW))
    assert state.done
    _, decision = decide(machine, state, AuditRecorded(NOW, "tom", "Approve"))
    assert decision.events == [] and decision.commands == []


def test_the_event_crosses_the_events_queue_and_bad_fields_are_refused() -> None:
    event = AuditRecorded(NOW, "tom", "Approve", task_id="t1", detail={"a": [1, 2]})
    message = messages.event_message("arn:x", event, "audit|arn:x|1")
    assert messages.parse_event(message.body).event == event
    body = {**message.body, "event": {**message.body["event"], "who": 7}}
    with pytest.raises(MalformedMessageError, match=r"'event\.who' is not a str"):
        messages.parse_event(body)
    body = {**message.body, "event": {**message.body["event"]}}
    del body["event"]["what"]
    with pytest.raises(MalformedMessageError, match=r"'event\.what' is missing"):
        messages.parse_event(body)
